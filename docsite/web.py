"""GET /docs/...: the built documentation site, as static files (docsite/files.py decides which)."""

from flask import Blueprint, abort, redirect, send_file

from docsite.files import content_type, is_built, resolve

# Material's pages run a few inline scripts of their own and load everything else from this site: nothing
# from another origin, no fonts from a CDN (mkdocs.yml: font: false).
HEADERS = {"Content-Security-Policy": "default-src 'self'; script-src 'self' 'unsafe-inline'; "
                                      "style-src 'self' 'unsafe-inline'; img-src 'self' data:; "
                                      "frame-ancestors 'none'; base-uri 'self'; form-action 'none'",
           "X-Content-Type-Options": "nosniff", "X-Frame-Options": "DENY", "Referrer-Policy": "no-referrer"}
HTML = {"Content-Type": "text/html; charset=utf-8"}
ASSET_MAX_AGE = 3600  # assets/ change only with a deploy; pages are revalidated every time
NOT_BUILT = """<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Documentation not built</title>
<style>body{font:16px/1.5 system-ui,sans-serif;max-width:40rem;margin:2rem auto;padding:0 1rem;color:#222}
code{background:#f3f3f3;padding:.1rem .3rem;border-radius:3px}</style></head>
<body><h1>The documentation has not been built on this server</h1>
<p>This service serves its documentation from the folder <code>site/</code> beside
<code>mkdocs.yml</code>, which holds no build yet. Build it with:</p>
<p><code>pip install -r requirements-dev.txt &amp;&amp; flask --app app docs build</code></p>
<p>(A Heroku or Render deploy builds it by itself: <code>bin/build-docs</code>.) Meanwhile the same pages are
in the repository's <code>docs/</code> folder, and the <a href="/">front page</a> shows how the service
stands.</p>
</body></html>
"""
MISSING = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Not found</title></head>
<body><h1>No such page in the documentation</h1><p><a href="/docs/">Documentation home</a></p></body></html>
"""


def make_blueprint(site):
    """/docs/... served from the built site folder `site`."""
    bp = Blueprint("docsite", __name__)

    @bp.get("/docs/", defaults={"subpath": ""})
    @bp.get("/docs/<path:subpath>")
    def page(subpath):
        if not is_built(site):
            return NOT_BUILT, 404, {**HEADERS, **HTML, "Cache-Control": "no-store"}
        found = resolve(site, subpath)
        if found.kind == "bad":
            abort(400)
        if found.kind == "missing":
            return MISSING, 404, {**HEADERS, **HTML}
        if found.kind == "redirect":
            return redirect(found.to, 308)
        response = send_file(found.path, mimetype=content_type(found.path),
                             max_age=ASSET_MAX_AGE if subpath.startswith("assets/") else None)
        response.headers.update(HEADERS)
        return response

    return bp
