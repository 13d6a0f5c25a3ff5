"""`flask sandbox`: web and worker together on this machine, against the built-in simulators."""

import os
import signal
import subprocess
import sys

import click
from flask import current_app
from flask.cli import with_appcontext

from sandbox.setup import REAL_CREDENTIALS, shared_token

WELCOME = """
unsub-relay is running in SANDBOX mode: nothing reaches a real JustClick or Mailkit account.

  front page     http://127.0.0.1:{port}/
  health         http://127.0.0.1:{port}/readyz
  your token     {token}

Send a first webhook:

  curl -s -X POST 'http://127.0.0.1:{port}/hooks/unsubscribe' \\
       -H 'Authorization: Bearer {token}' -H 'Content-Type: application/json' \\
       -d '{{"email": "anna@example.com"}}'

Steer the simulators with the address: anna+notfound@..., +down, +ratelimit, +badhash, +slow.
Stop with Ctrl-C.
"""


def child_env(port):
    """The environment both processes start with: the sandbox, SQLite, and nothing real."""
    env = {k: v for k, v in os.environ.items() if k not in REAL_CREDENTIALS}
    return {**env, "SANDBOX": "1", "PORT": str(port), "FLASK_APP": "app"}


@click.command("sandbox")
@with_appcontext
@click.option("--port", default=8000, show_default=True, help="Where the web process listens.")
def sandbox_command(port):
    """Run web (gunicorn, as the Procfile does) and worker against the simulators; Ctrl-C stops both."""
    env, root, bindir = child_env(port), current_app.root_path, os.path.dirname(sys.executable)
    configured = env.get("WEBHOOK_TOKENS", "").replace(",", " ").split()
    token = configured[0] if configured else shared_token(current_app.instance_path)
    procs = [subprocess.Popen([os.path.join(bindir, "gunicorn"), "app:app", "-c", "gunicorn.conf.py"],
                              cwd=root, env=env),
             subprocess.Popen([os.path.join(bindir, "flask"), "worker"], cwd=root, env=env)]
    click.echo(WELCOME.format(port=port, token=token), err=True)

    def stop(*_):
        for proc in procs:
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    codes = [proc.wait() for proc in procs]
    sys.exit(max(codes) if any(c not in (0, -signal.SIGTERM) for c in codes) else 0)


def init_app(app):
    app.cli.add_command(sandbox_command)
