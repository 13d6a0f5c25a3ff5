"""What a public form key may do, and the bot checks in front of it (honeypot, Turnstile).

A form key sits in a public page, so anyone may hold it: it unsubscribes one address per request, within
the public rate limit, and nothing more. It carries what a visitor types (an email address or a phone
number) and what the page around the field sets (a vendor's public option such as a group, a redirect);
never a vendor's identifier or other option. WEBHOOK_TOKENS stay the server-to-server credential.
"""

import logging
import uuid

from flask import request

from delivery.answer import Entry, answer_from
from delivery.planning import public_fields
from errors import Forbidden, Invalid
from status import UNSUBSCRIBED

log = logging.getLogger("unsub_relay.web")
PUBLIC_ONLY = "A public form key unsubscribes one address per request and nothing more"
BOT_CHECK_FAILED = "The check that you are a person did not pass; nothing was sent. Please go back and try again."
# Canonical fields (schemas/inbound.py) a form key may carry besides the vendors' public options (a group):
# every other vendor field needs a server token. dry_run passes here and is refused by allowed(), as
# ?dry_run= is.
PUBLIC_FIELDS = frozenset({"email", "phone", "redirect", "dry_run"})


def not_public(options):
    return (f"A public form key takes only an email address or a phone number (and {', '.join(options)}); "
            "this field needs a server token (WEBHOOK_TOKENS).")


def is_public(auth):
    """True when the caller holds no server credential: its answers are public (answers.public_body)."""
    return auth == "form_key"


def _field(body, name):
    value = body.get(name) if isinstance(body, dict) else None
    return value[0] if isinstance(value, list) and value else value


def screen(auth, body, inbound, settings, bot_check):
    """Before planning a form-key request: Forbidden for a batch or a failed bot check (`bot_check`, the
    relay's, set when TURNSTILE_SECRET is), Invalid (naming the fields) for any field beyond PUBLIC_FIELDS,
    the query string's included; nothing is sent."""
    if not is_public(auth):
        return
    if inbound.batch:
        raise Forbidden(f"{PUBLIC_ONLY}: send one form, not a batch.")
    public = public_fields()
    extra = sorted({name for _, fields in inbound.items for name in fields} - PUBLIC_FIELDS - public)
    if extra:
        message = not_public([*sorted(public), "redirect"])
        raise Invalid({name: [message] for name in extra}, f"{PUBLIC_ONLY}; nothing was sent.")
    if settings.turnstile_secret:
        token = str(_field(body, "cf-turnstile-response") or "")
        if not bot_check.verify(token, request.remote_addr):
            raise Forbidden(BOT_CHECK_FAILED)


def caught(auth, body, settings):
    """True for a form-key request whose honeypot field is filled: a bot, to be given decoy()."""
    if not is_public(auth) or not str(_field(body, settings.honeypot_field) or "").strip():
        return False
    log.info("webhook route=%s auth=form_key honeypot=filled: answered as a success, nothing sent",
             request.path)
    return True


def decoy(deliveries, batch):
    """The answer a bot gets: a real answer's shape (one success per planned delivery, a fresh request id
    made as the ledger makes its ids, uuid4 hex), so it cannot tell that nothing was sent."""
    entries = [Entry(index=d.index, destination=d.destination, status=UNSUBSCRIBED, code=None, message="",
                     delivery_id=uuid.uuid4().hex) for d in deliveries]
    return answer_from(uuid.uuid4().hex, entries, batch)


def allowed(auth, dry_run):
    """After planning: a form key may not ask for a dry run (it would reveal what we send)."""
    if is_public(auth) and dry_run:
        raise Forbidden(f"{PUBLIC_ONLY}: no dry runs (use a server token for a Zap's test step).")
