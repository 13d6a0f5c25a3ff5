"""POST /hooks/<vendor> (one per registered vendor: /hooks/justclick, /hooks/mailkit) and /hooks/unsubscribe
(every configured vendor): authorize, parse, hand to the service, answer."""

import hashlib
import time

from flask import Blueprint, g, jsonify, request

from marshmallow import ValidationError
from werkzeug.routing import BaseConverter
from werkzeug.routing import ValidationError as NoSuchRoute

from delivery.planning import destinations
from edge.auth import authorize, offered_token
from errors import Invalid
from schemas.fields import any_flag, refuse_control
from schemas.inbound import canonical, read_items
from webhooks import answers, forms, intake
from webhooks.logs import webhook_line

EVERY = "unsubscribe"  # the route that delivers to every configured vendor
CONTROL_ARGS = {"token", "key", "dry_run"}


def strictly(check, *args):
    """Run a schemas check on a query value or header; its ValidationError is a 422 like any field's."""
    try:
        return check(*args)
    except ValidationError as exc:
        raise Invalid(exc.messages) from None


def dry_run(deliveries):
    """`?dry_run=`, `X-Dry-Run:` or a `dry_run` field: a clear yes is a dry run, anything unclear a 422."""
    return strictly(any_flag, "dry_run", request.args.get("dry_run"), request.headers.get("X-Dry-Run"),
                    *[d.request.dry_run for d in deliveries])


def _digest(text):
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def credential(auth):
    """Which credential vouched for the request (a token's digest, never the token), to scope keys by."""
    token = offered_token(request) or (request.form.get("token", "") if auth == "form_token" else "")
    return f"{auth}:{_digest(token)[:16]}" if token else auth


def idempotency_key(route, auth, inbound):
    """The request's own name: Idempotency-Key, webhook-id, or the sender's event id; scoped by route and
    credential, so a key seen with one credential names nothing for another. A public form key shares its
    credential with every visitor: its requests replay nobody's answer (the dedup window still holds)."""
    if auth == "form_key":
        return None
    key = request.headers.get("Idempotency-Key") or (
        request.headers.get("webhook-id") if auth == "standard_webhooks" else None) or inbound.event_key
    if not key:
        return None
    key = f"{route}:{credential(auth)}:{strictly(refuse_control, key.strip(), 'Idempotency-Key')}"
    return key if len(key) <= 300 else f"{route}:sha256:{_digest(key)}"


class HookRoute(BaseConverter):
    """`unsubscribe` or a registered vendor's name; anything else matches no route (a 404, and metrics
    label it `unknown`, so a caller cannot invent labels)."""

    regex = "[a-z][a-z0-9_]{0,31}"

    def to_python(self, value):
        if value != EVERY and value not in destinations()[1:]:
            raise NoSuchRoute()
        return value


def _add_converter(state):  # before the blueprint's rule is added to the app
    state.app.url_map.converters["hook"] = HookRoute


def destination_of(route):
    """The destination a hook route delivers to: all for /hooks/unsubscribe, else the vendor it names."""
    return "all" if route == EVERY else route


def _start_clock():
    # Read by webhooks/errors.py's refusal line only, for refusals raised before the view (the caller's
    # limit) or in it; the view times its own line (it is passed `started`).
    g.started = time.monotonic()


def make_blueprint(relay):
    """POST|PUT /hooks/<route>, under the caller's limit, over the relay's settings, service and bot check."""
    bp = Blueprint("hooks", __name__, url_prefix="/hooks")
    bp.record_once(_add_converter)
    bp.before_request(_start_clock)

    def hook(route):
        return receive(relay, route)
    bp.add_url_rule("/<hook:route>", "hook", relay.limits.per_caller(hook), methods=["POST", "PUT"])
    return bp


def receive(relay, route):
    """Receive one webhook (or a batch) and answer only after the upstream answer was verified."""
    started = time.monotonic()
    settings, service = relay.settings, relay.service
    raw = request.get_data(cache=True)
    auth = authorize(settings, request, raw)
    body = intake.parse(request.mimetype, raw, lambda: request.form.items(multi=True))
    one_click = isinstance(body, dict) and "List-Unsubscribe" in body  # RFC 8058: never a page
    defaults = canonical({k: v for k, v in request.args.items() if k not in CONTROL_ARGS})
    inbound = read_items(body, defaults)
    g.webhook_source = inbound.source  # for the webhook counter (metrics/routes.py, after the answer)
    if inbound.ping:
        return jsonify(status="ok", message="Test received; nothing was sent.",
                       **({"sandbox": True} if settings.sandbox else {}))
    forms.screen(auth, body, inbound, settings, relay.bot_check)
    deliveries = service.plan(inbound.items, inbound.errors, inbound.batch, destination_of(route),
                              channel="webhook", auth=auth)
    if dry_run(deliveries):
        forms.allowed(auth, dry_run=True)
        return answers.respond(service.preview(deliveries, inbound.batch), settings, one_click=one_click)
    # The honeypot is read after validation: a bot is refused what a person would be, and else gets the
    # answer a person gets, through the same respond() below.
    if forms.caught(auth, body, settings):
        answer = forms.decoy(deliveries, inbound.batch)
    else:
        answer = send(service, route, auth, inbound, deliveries, started)
    return answers.respond(answer, settings, redirect_to=deliveries[0].request.redirect,
                           public=forms.is_public(auth), one_click=one_click)


def send(service, route, auth, inbound, deliveries, started):
    """Submit the deliveries to the delivery service and log the one line of this webhook."""
    respond_async = "respond-async" in request.headers.get("Prefer", "").lower()
    key = idempotency_key(route, auth, inbound)
    answer = service.submit(deliveries, key, respond_async, batch=inbound.batch)
    webhook_line(request.path, inbound.source, auth, answer.entries, answers.http_status(answer.status),
                 (time.monotonic() - started) * 1000, {d.index: d.target for d in deliveries})
    return answer
