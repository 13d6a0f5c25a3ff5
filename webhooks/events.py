"""POST /hooks/mailkit/events and POST /hooks/justclick/events: the vendors' own opt-outs (Mailkit's
unsubscribe webhook, JSON; JustClick's "URL for Notifications", a form), carried to the other destinations
by delivery/events.py (issue 20, item 2).

Neither vendor signs what it sends: the vendor's own token in the URL (MAILKIT_EVENTS_TOKEN,
JUSTCLICK_EVENTS_TOKEN; unset: the route is off, 404) lets it in, and the event is still only a claim that
the source vendor is asked to confirm. Mailkit does not retry: an event chosen to be ignored is answered 200,
a body that is no event 422, an event its vendor could not confirm now 503 (the reconcile finds it).
"""

import hmac
import json
import time

from flask import Blueprint, abort, g, jsonify, request

from delivery.events import UNCONFIRMED, EventCarrier, read_event
from edge.auth import query_secret
from errors import NotAuthorized
from schemas.events import NotAnEvent

NOT_AN_EVENT = 422


def mailkit_body():
    """Mailkit's webhook body: JSON (its Content-Type is undocumented, so the raw body is read)."""
    try:
        return json.loads(request.get_data(cache=True) or b"null")
    except (ValueError, UnicodeDecodeError):
        raise NotAnEvent("the body is not JSON") from None


def justclick_body():
    """JustClick's notification: form fields (email, id_group, status, ...)."""
    return request.form


BODIES = {"mailkit": mailkit_body, "justclick": justclick_body}


def authorize(carrier, source):
    """404 while the route is off (no token, or the vendor is not configured: it could not be asked to
    confirm); 401 unless `?token=` is the vendor's events token, compared in constant time."""
    if not carrier.enabled(source):
        abort(404)
    offered, expected = query_secret(request, "token"), carrier.settings.token(source)
    if not hmac.compare_digest(offered.encode("utf-8", "replace"), expected.encode("utf-8")):
        raise NotAuthorized(f"not authorised: send the {source.upper()}_EVENTS_TOKEN as ?token=")


def receive(carrier, source, sandbox):
    """Authorize, read, decide, answer: what came of the event in JSON, never an address."""
    g.started = time.monotonic()  # for the refusal line in webhooks/errors.py
    authorize(carrier, source)
    try:
        result = carrier.receive(read_event(source, BODIES[source]()))
    except NotAnEvent as exc:
        body, status = {"status": "rejected", "reason": str(exc)}, NOT_AN_EVENT
    else:
        body, status = result.body, 503 if result.result == UNCONFIRMED else 200
    response = jsonify({**body, "sandbox": True} if sandbox else body)
    response.status_code = status
    return response


def make_blueprint(relay):
    """The two routes, each under the caller's limit, over the relay's service and settings."""
    bp = Blueprint("events", __name__, url_prefix="/hooks")
    carrier = EventCarrier(relay.service)
    for source in BODIES:
        def view(source=source):
            return receive(carrier, source, relay.settings.sandbox)
        view.__name__ = f"{source}_events"
        bp.add_url_rule(f"/{source}/events", view.__name__, relay.limits.per_caller(view), methods=["POST"])
    return bp
