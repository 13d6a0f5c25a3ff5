"""`flask sandbox`: web and worker together on this machine, against the built-in simulators."""

import json
import os
import sys
import urllib.error
import urllib.parse
import urllib.request
from datetime import datetime, timezone

import click
from flask import current_app
from flask.cli import with_appcontext

from sandbox.launch import StartError, child_env, run
from sandbox.setup import FORM_KEY, first_token


@click.command("sandbox")
@with_appcontext
@click.option("--port", default=8000, show_default=True, type=click.IntRange(1, 65535),
              help="The port the web process listens on, on 127.0.0.1 only; choose another when it is taken.")
def sandbox_command(port):
    """Run web (gunicorn, as the Procfile does) and worker against the simulators, on 127.0.0.1; Ctrl-C stops
    both. The banner shows the webhook token, the form key and what each address marker answers."""
    env = child_env(port)
    token = first_token(env, current_app.instance_path, "WEBHOOK_TOKENS")
    form_key = (env.get("FORM_KEYS", "").replace(",", " ").split() or [FORM_KEY])[0]
    try:
        code = run(current_app.root_path, port, (token, form_key), lambda text: click.echo(text, err=True))
    except StartError as exc:
        raise click.ClickException(f"the sandbox did not start: {exc}") from None
    sys.exit(code)


def vendor_event(vendor, address, method="link_in_mail", listed=""):
    """(body, content type) of the opt-out `vendor` itself would post: Mailkit's unsubscribe webhook (JSON,
    as its client libraries' fixture has it), or JustClick's notification (a form, status 0)."""
    if vendor == "justclick":
        form = {"name": "", "email": address, "phone": "", "city": "", "id_group": listed, "ip": "", "status": "0"}
        return urllib.parse.urlencode(form).encode(), "application/x-www-form-urlencoded"
    now = datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M:%S")
    body = {"EMAIL": address, "ID_EMAIL": "", "DATE": now, "IP": "", "IP_ORIG": "", "ID_ML": listed, "ID_SEND": "",
            "ID_MESSAGE": "", "TIMEOUT": "", "EXPIRE": "", "METHOD": method, "UNSUBSCRIBE_ANSWER": "",
            "UNSUBSCRIBE_NOTE": ""}
    return json.dumps(body).encode(), "application/json"


@click.command("sandbox-event")
@with_appcontext
@click.argument("address")
@click.option("--vendor", type=click.Choice(["mailkit", "justclick"]), default="mailkit", show_default=True,
              help="Whose opt-out it is: it is carried to the other one.")
@click.option("--method", default="link_in_mail", show_default=True, help="Mailkit's METHOD (api_unsubscribe: an echo).")
@click.option("--list", "listed", default="", help="Mailkit's ID_ML or JustClick's id_group.")
@click.option("--port", default=8000, show_default=True, type=click.IntRange(1, 65535))
def sandbox_event_command(address, vendor, method, listed, port):
    """Post the opt-out a vendor itself would send (Mailkit's webhook, JustClick's notification) to the
    sandbox running on 127.0.0.1:PORT (`flask sandbox`), and print what came of it."""
    body, content_type = vendor_event(vendor, address, method, listed)
    token = first_token(os.environ, current_app.instance_path, f"{vendor.upper()}_EVENTS_TOKEN", "WEBHOOK_TOKENS")
    token = urllib.parse.quote(token, safe="")
    request = urllib.request.Request(f"http://127.0.0.1:{port}/hooks/{vendor}/events?token={token}", data=body,
                                     headers={"Content-Type": content_type}, method="POST")
    try:
        with urllib.request.urlopen(request, timeout=30) as response:  # noqa: S310 - our own sandbox's URL
            click.echo(response.read().decode())
    except urllib.error.HTTPError as exc:
        raise click.ClickException(f"HTTP {exc.code}: {exc.read().decode()[:300]}") from None
    except OSError as exc:
        raise click.ClickException(f"no sandbox answered on port {port} ({exc}): start `flask sandbox`") from None


def init_app(app):
    app.cli.add_command(sandbox_command)
    app.cli.add_command(sandbox_event_command)
