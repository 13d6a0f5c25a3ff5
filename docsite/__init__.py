"""The documentation site: MkDocs builds docs/ into site/ (`flask docs build`, or `python -m docsite.build`
on a platform's build step), and the service serves that build at /docs as plain static files.

The runtime never imports MkDocs: it is a build tool (docs/requirements.txt), so a dyno carries only what
serving needs."""

from pathlib import Path


def init_app(app, site_dir=None):
    """Serve the built site at /docs (from `site_dir`, by default site/ beside mkdocs.yml) and add
    `flask docs build`."""
    from docsite.build import SITE_DIR
    from docsite.cli import make_cli
    from docsite.web import make_blueprint

    site = Path(site_dir or SITE_DIR)
    app.register_blueprint(make_blueprint(site))
    app.cli.add_command(make_cli(site))
