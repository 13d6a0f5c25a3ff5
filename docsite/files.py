"""Which file of the built site a URL path names: pure, so every refusal is a row in a table test.

Only plain path segments are followed: no `..`, no NUL, no backslash, nothing hidden, and the real path
(after symlinks) must stay inside the site. A folder is served by its index.html, and only under a URL
ending in `/`, so the pages' relative links resolve as MkDocs wrote them."""

import os
from dataclasses import dataclass
from pathlib import Path

# The build's file types, named here rather than guessed from the machine's mime.types, which differs
# between a laptop, CI and a dyno.
CONTENT_TYPES = {
    ".html": "text/html", ".css": "text/css", ".js": "text/javascript", ".json": "application/json",
    ".svg": "image/svg+xml", ".png": "image/png", ".ico": "image/x-icon", ".xml": "application/xml",
    ".gz": "application/gzip", ".txt": "text/plain", ".map": "application/json", ".woff2": "font/woff2",
}
FALLBACK_TYPE = "application/octet-stream"


@dataclass(frozen=True)
class Found:
    """What to answer: kind is "file" (path), "redirect" (to: the path with a slash), "bad" or "missing"."""

    kind: str
    path: Path = None
    to: str = ""


def refused(subpath):
    """True for a path no site file can have: NUL, backslash, `..`, `.`, or a hidden segment."""
    if "\x00" in subpath or "\\" in subpath:
        return True
    return any(segment.startswith(".") for segment in subpath.split("/") if segment)


def resolve(site_dir, subpath):
    """The answer for /docs/<subpath> from `site_dir`: a path the file system cannot even look up (a name
    too long, ENAMETOOLONG) is no page either."""
    if refused(subpath):
        return Found("bad")
    try:
        return _look_up(Path(os.path.realpath(site_dir)), subpath)
    except OSError:
        return Found("missing")


def _look_up(root, subpath):
    named = root.joinpath(*[segment for segment in subpath.split("/") if segment])
    if named.is_dir():
        if subpath and not subpath.endswith("/"):
            return Found("redirect", to=subpath.rstrip("/").rsplit("/", 1)[-1] + "/")
        named = named / "index.html"
    elif subpath.endswith("/"):
        return Found("missing")  # a file under a folder's URL: its relative links would not resolve
    real = Path(os.path.realpath(named))
    if root not in real.parents or not real.is_file():  # a symlink out of the site counts as missing
        return Found("missing")
    return Found("file", real)


def content_type(path):
    return CONTENT_TYPES.get(Path(path).suffix.lower(), FALLBACK_TYPE)


def is_built(site_dir):
    """Whether a build is there to serve (its home page exists)."""
    return (Path(site_dir) / "index.html").is_file()
