"""`flask unsubscribe` (through the ledger, like a webhook) and `flask check`."""

import json
import sys

import click

from commands import pass_relay
from delivery.operations import check_report
from delivery.planning import destinations
from errors import Invalid, NotConfigured
from schemas.inbound import canonical
from status import is_success

EXIT_OK, EXIT_FAILED, EXIT_USAGE = 0, 1, 2
REPORTED = ("destination", "status", "code", "message")


class Destination(click.Choice):
    """`--to`: all, or the name of a vendor registered when the command runs (not when it was imported)."""

    def __init__(self):
        super().__init__(destinations())

    @property
    def choices(self):
        return destinations()

    @choices.setter
    def choices(self, _):
        pass  # click sets it in __init__; the registry is the one list


def emit(obj):
    """One JSON document on stdout, texts readable (JustClick answers in Russian)."""
    click.echo(json.dumps(obj, ensure_ascii=False))


def target_fields(target):
    """An email when it has an @, otherwise a phone number."""
    target = target.strip()
    if "@" in target:
        return {"email": target}
    if any(ch.isalpha() for ch in target):  # anna.example.com: a mistyped address, no phone number
        raise Invalid({"target": ["Not an email address or phone number: an address needs an @, a phone "
                                  "number digits in international format (e.g. +420 777 123 456)."]})
    return {"phone": target}


def unsubscribe_result(service, target, to, options, force=False):
    """Run one CLI unsubscribe through the delivery service: (exit code, JSON-able result). `options` are
    named as a sender names them (group, campaign, ...)."""
    try:
        fields = canonical({**target_fields(target), **{k: v for k, v in options.items() if v is not None}})
        deliveries = service.plan([(0, fields)], to=to, channel="cli", auth="operator")
    except Invalid as exc:
        return EXIT_USAGE, {"status": "invalid", "errors": exc.errors}
    except NotConfigured as exc:
        return EXIT_USAGE, {"status": "invalid", "errors": {"to": [exc.message]}}
    answer = service.submit(deliveries, sender="cli", dedup=not force)
    results = [{k: entry[k] for k in REPORTED} for entry in answer.body["results"]]
    code = EXIT_OK if all(is_success(r["status"]) for r in results) else EXIT_FAILED
    if to != "all":
        return code, results[0]
    return code, {"status": answer.status, "results": results}


@click.command("unsubscribe")
@pass_relay
@click.argument("target")
@click.option("--to", "to", type=Destination(), default="all", show_default=True)
@click.option("--group", help="JustClick group (rass_name); defaults to JUSTCLICK_GROUP.")
@click.option("--campaign", help="Mailkit ID_send_message (campaign delivery ID).")
@click.option("--no-optout", "send_optout", flag_value=False, default=None,
              help="Mailkit: do not send the opt-out confirmation mail.")
@click.option("--timeout-days", type=int, help="Mailkit: temporary unsubscribe for 14 to 90 days.")
@click.option("--force", is_flag=True, help="Send even if the same unsubscribe is in the dedup window.")
def unsubscribe_command(relay, target, to, group, campaign, send_optout, timeout_days, force):
    """Unsubscribe TARGET (an email address or phone number) now, and print the result as JSON."""
    options = {"group": group, "campaign": campaign, "send_optout": send_optout, "timeout_days": timeout_days}
    code, result = unsubscribe_result(relay.service, target, to, options, force)
    emit(result)
    sys.exit(code)


@click.command("check")
@pass_relay
@click.option("--online", is_flag=True, help="Ask each configured vendor whether it accepts our credentials "
              "and IP (a harmless call that unsubscribes nobody).")
def check_command(relay, online):
    """Report which destinations and webhook checks are configured, without printing secrets."""
    if online:
        checks = relay.operations.online_check()
        for check in checks:
            emit(check)
        if not checks:
            emit({"destination": None, "ok": False, "message": "no destination is configured"})
        sys.exit(EXIT_OK if checks and all(c["ok"] for c in checks) else EXIT_FAILED)
    report = check_report(relay.settings)
    emit(report)
    sys.exit(EXIT_OK if report["ok"] else EXIT_FAILED)


def init_app(app):
    """Register the commands."""
    app.cli.add_command(unsubscribe_command)
    app.cli.add_command(check_command)
