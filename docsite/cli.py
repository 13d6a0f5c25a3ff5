"""`flask docs build`: the documentation site, built where this app serves it."""

import click
from flask import current_app
from flask.cli import AppGroup

from docsite.build import build

docs_cli = AppGroup("docs", help="The documentation site served at /docs.")


@docs_cli.command("build")
@click.option("--site-dir", type=click.Path(file_okay=False), default=None,
              help="Where to build (default: the folder /docs serves, site/).")
def build_command(site_dir):
    """Build docs/ into the site /docs serves (MkDocs, offline, strict: a warning fails it)."""
    target = site_dir or current_app.extensions["docs_site"]
    code = build(target)
    if code:
        raise click.ClickException(f"the documentation was not built (exit {code}); see above")
    click.echo(f"documentation built in {target}: served at /docs")
