"""What a public form key may do, and the bot checks in front of it (honeypot, Turnstile).

A form key sits in a public page, so anyone may hold it: it unsubscribes one address per request, within
the public rate limit, and nothing more. WEBHOOK_TOKENS stay the server-to-server credential.
"""

import logging

from flask import current_app, request

from delivery.answer import answer_of
from errors import Forbidden

log = logging.getLogger("unsub_relay.web")
PUBLIC_ONLY = "A public form key unsubscribes one address per request and nothing more"
BOT_CHECK_FAILED = "The check that you are a person did not pass; nothing was sent. Please go back and try again."


def _field(body, name):
    value = body.get(name) if isinstance(body, dict) else None
    return value[0] if isinstance(value, list) and value else value


def screen(auth, body, inbound, settings):
    """Before planning a form-key request: None to go on, a decoy Answer for a bot that filled the honeypot,
    or Forbidden for a batch or a failed bot check."""
    if auth != "form_key":
        return None
    if inbound.batch:
        raise Forbidden(f"{PUBLIC_ONLY}: send one form, not a batch.")
    if str(_field(body, settings.honeypot_field) or "").strip():
        log.info("webhook route=%s auth=form_key honeypot=filled: answered as a success, nothing sent",
                 request.path)
        return answer_of(None, [], batch=False)  # the normal success answer: the bot learns nothing
    if settings.turnstile_secret:
        token = str(_field(body, "cf-turnstile-response") or "")
        if not current_app.extensions["botcheck"].verify(token, request.remote_addr):
            raise Forbidden(BOT_CHECK_FAILED)
    return None


def allowed(auth, dry_run):
    """After planning: a form key may not ask for a dry run (it would reveal what we send)."""
    if auth == "form_key" and dry_run:
        raise Forbidden(f"{PUBLIC_ONLY}: no dry runs (use a server token for a Zap's test step).")
