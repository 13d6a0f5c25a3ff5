"""`flask docs build`: the documentation site, built where this app serves it."""

import click
from flask.cli import AppGroup

from docsite.build import build

def make_cli(site):
    """The `flask docs` group, building into `site` (the folder /docs serves) unless told otherwise."""
    docs_cli = AppGroup("docs", help="The documentation site served at /docs.")

    @docs_cli.command("build")
    @click.option("--site-dir", type=click.Path(file_okay=False), default=None,
                  help="Where to build (default: the folder /docs serves, site/).")
    def build_command(site_dir):
        """Build docs/ into the site /docs serves (MkDocs, offline, strict: a warning fails it)."""
        target = site_dir or site
        code = build(target)
        if code:
            raise click.ClickException(f"the documentation was not built (exit {code}); see above")
        click.echo(f"documentation built in {target}: served at /docs")

    return docs_cli
