"""`flask links make`: a signed per-recipient unsubscribe link and its RFC 8058 headers, as JSON."""

import sys

import click
from marshmallow import ValidationError

from commands import pass_relay
from commands.unsubscribe import EXIT_OK, EXIT_USAGE, Destination, emit, target_fields
from links.make import make_link
from links.tokens import LinkSigner
from schemas.fields import parse_duration
from schemas.request import request_schema

links_cli = click.Group("links", help="Signed per-recipient unsubscribe links.")


def link_for(settings, target, to, group, campaign, expires):
    """(exit code, JSON): the link, or what is missing or wrong (nothing is written anywhere)."""
    if not (settings.link_secrets and settings.link_signing) or not settings.public_url:
        # A LINK_SECRETS that was set but refused (too short...) says why, not merely "set it".
        refused = [p for p in settings.problems if p.startswith(("LINK_SECRETS", "PUBLIC_URL"))]
        return EXIT_USAGE, {"status": "invalid",
                            "errors": {"settings": refused or ["set LINK_SECRETS and PUBLIC_URL"]}}
    try:
        request = request_schema().load(target_fields(target))  # the address, read as a webhook's
        seconds = parse_duration(expires) if expires else None
        made = make_link(LinkSigner(settings.link_secrets), settings.public_url, request.target, to, group,
                         campaign, seconds)
    except ValidationError as exc:
        return EXIT_USAGE, {"status": "invalid", "errors": exc.messages}
    except ValueError as exc:
        return EXIT_USAGE, {"status": "invalid", "errors": {"link": [str(exc)]}}
    return EXIT_OK, made


@links_cli.command("make")
@pass_relay
@click.argument("target")
@click.option("--to", "to", type=Destination(), default="all", show_default=True)
@click.option("--group", help="JustClick group (rass_name).")
@click.option("--campaign", help="Mailkit ID_send_message.")
@click.option("--expires", help="e.g. 365d, 12h, 30m; none by default (old mails keep working).")
def make_command(relay, target, to, group, campaign, expires):
    """Print {"url", "headers"} for one recipient (an email address or phone number)."""
    code, result = link_for(relay.settings, target, to, group, campaign, expires)
    emit(result)
    sys.exit(code)


def init_app(app):
    app.cli.add_command(links_cli)
