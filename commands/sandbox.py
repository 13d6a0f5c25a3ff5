"""`flask sandbox`: web and worker together on this machine, against the built-in simulators."""

import sys

import click
from flask import current_app
from flask.cli import with_appcontext

from sandbox.launch import StartError, child_env, run
from sandbox.setup import FORM_KEY, shared_token


@click.command("sandbox")
@with_appcontext
@click.option("--port", default=8000, show_default=True, type=click.IntRange(1, 65535),
              help="The port the web process listens on, on 127.0.0.1 only; choose another when it is taken.")
def sandbox_command(port):
    """Run web (gunicorn, as the Procfile does) and worker against the simulators, on 127.0.0.1; Ctrl-C stops
    both. The banner shows the webhook token, the form key and what each address marker answers."""
    env = child_env(port)
    configured = env.get("WEBHOOK_TOKENS", "").replace(",", " ").split()
    token = configured[0] if configured else shared_token(current_app.instance_path)
    form_key = (env.get("FORM_KEYS", "").replace(",", " ").split() or [FORM_KEY])[0]
    try:
        code = run(current_app.root_path, port, (token, form_key), lambda text: click.echo(text, err=True))
    except StartError as exc:
        raise click.ClickException(f"the sandbox did not start: {exc}") from None
    sys.exit(code)


def init_app(app):
    app.cli.add_command(sandbox_command)
