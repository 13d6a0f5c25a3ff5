"""`flask unsubscribe` and `flask check`: thin wrappers over dispatch and settings."""

import json
import sys

import click
from flask import current_app
from flask.cli import with_appcontext
from marshmallow import ValidationError

from connectors import DESTINATIONS, missing
from dispatch import NotConfigured, target_fields, unsubscribe_now
from schemas.request import REQUEST_SCHEMA

EXIT_OK, EXIT_FAILED, EXIT_USAGE = 0, 1, 2


def _emit(obj):
    click.echo(json.dumps(obj, ensure_ascii=False))


def unsubscribe_result(dispatcher, target, to, options):
    """Run one CLI unsubscribe: (exit code, JSON-able result)."""
    fields = {**target_fields(target), **{k: v for k, v in options.items() if v is not None}}
    try:
        request = REQUEST_SCHEMA.load(fields)
        results = unsubscribe_now(dispatcher, request, to)
    except ValidationError as exc:
        return EXIT_USAGE, {"status": "invalid", "errors": exc.messages}
    except NotConfigured as exc:
        return EXIT_USAGE, {"status": "invalid", "errors": {"to": [str(exc)]}}
    code = EXIT_OK if all(r.ok for r in results) else EXIT_FAILED
    if to != "all":
        return code, results[0].as_dict()
    status = "unsubscribed" if code == EXIT_OK else "failed"
    return code, {"status": status, "results": [r.as_dict() for r in results]}


@click.command("unsubscribe")
@with_appcontext
@click.argument("target")
@click.option("--to", "to", type=click.Choice(["all", *DESTINATIONS]), default="all", show_default=True)
@click.option("--group", help="JustClick group (rass_name); defaults to JUSTCLICK_GROUP.")
@click.option("--campaign", help="Mailkit ID_send_message (campaign delivery ID).")
@click.option("--no-optout", "send_optout", flag_value=False, default=None,
              help="Mailkit: do not send the opt-out confirmation mail.")
@click.option("--timeout-days", type=int, help="Mailkit: temporary unsubscribe for 14 to 90 days.")
def unsubscribe_command(target, to, group, campaign, send_optout, timeout_days):
    """Unsubscribe TARGET (an email address or phone number) now, and print the result as JSON."""
    options = {"group": group, "ID_send_message": campaign, "send_optout": send_optout,
               "timeout_days": timeout_days}
    code, result = unsubscribe_result(current_app.extensions["dispatcher"], target, to, options)
    _emit(result)
    sys.exit(code)


def check_report(settings, auth_methods):
    """Which destinations are configured, and what is missing or malformed; never a secret."""
    report = {"destinations": {}, "webhook_auth": auth_methods, "problems": list(settings.problems)}
    for name, gaps in missing(settings).items():
        report["destinations"][name] = {"configured": not gaps, "missing": gaps}
    report["destinations"]["justclick"]["api_url"] = settings.justclick_url
    report["destinations"]["justclick"]["default_group"] = settings.justclick_group or None
    report["destinations"]["mailkit"].update(transport=settings.mailkit_transport, api_url=settings.mailkit_url)
    if not auth_methods:
        report["problems"].append("no webhook authentication: set WEBHOOK_TOKENS or WEBHOOK_SECRET "
                                  "(or TYPEFORM_SECRET / TALLY_SECRET); every hook answers 401 until then")
    if not any(d["configured"] for d in report["destinations"].values()):
        report["problems"].append("no destination is configured")
    report["ok"] = not report["problems"]
    return report


@click.command("check")
@with_appcontext
def check_command():
    """Report which destinations and webhook checks are configured, without printing secrets."""
    from webhooks.auth import configured_methods

    settings = current_app.config["SETTINGS"]
    report = check_report(settings, configured_methods(settings))
    _emit(report)
    sys.exit(EXIT_OK if report["ok"] else EXIT_FAILED)


def init_app(app):
    """Register the operator commands."""
    app.cli.add_command(unsubscribe_command)
    app.cli.add_command(check_command)
