"""POST /hooks/justclick, /hooks/mailkit and /hooks/unsubscribe: verify, read, validate, relay, answer."""

import hashlib
import time

from flask import Blueprint, current_app, g, jsonify, request
from marshmallow import ValidationError
from sqlalchemy.exc import IntegrityError

from schemas.fields import TRUTHY
from schemas.inbound import canonical, read_items
from schemas.request import REQUEST_SCHEMA
from store.ledger import Planned
from webhooks import answers, intake
from webhooks.auth import authorize
from webhooks.logs import webhook_line

bp = Blueprint("hooks", __name__, url_prefix="/hooks")
DESTINATION_OF = {"justclick": "justclick", "mailkit": "mailkit", "unsubscribe": "all"}
CONTROL_ARGS = {"token", "dry_run"}


def plan_for(index, destination, payload):
    """The ledger row for one vendor payload: who, which group or campaign, which options."""
    if destination == "justclick":
        return Planned(index, destination, payload["lead_email"], payload["rass_name"], None, {}, payload)
    options = {"send_optout": payload["send_optout"], "timeout_days": payload["timeout_days"]}
    target = payload["email"] or payload["ID_email"]
    return Planned(index, destination, target, None, payload["ID_send_message"], options, payload)


def validated(inbound, names, dispatcher):
    """[(index, request, {destination: payload})], or ValidationError shaped like marshmallow's."""
    items, errors = [], dict(inbound.errors)
    for index, fields in inbound.items:
        try:
            unsubscribe = REQUEST_SCHEMA.load(fields)
            items.append((index, unsubscribe, dispatcher.payloads(names, unsubscribe)))
        except ValidationError as exc:
            errors[index] = exc.messages
    if errors:
        raise ValidationError(errors if inbound.batch else next(iter(errors.values())))
    return items


def _flag(name, header):
    return str(request.args.get(name) or request.headers.get(header) or "").strip().lower() in TRUTHY - {""}


def idempotency_key(route, auth, inbound):
    """The request's own name: Idempotency-Key, webhook-id, or the sender's event id; scoped by route."""
    key = request.headers.get("Idempotency-Key") or (
        request.headers.get("webhook-id") if auth == "standard_webhooks" else None) or inbound.event_key
    if not key:
        return None
    key = f"{route}:{key.strip()}"
    return key if len(key) <= 300 else f"{route}:sha256:{hashlib.sha256(key.encode()).hexdigest()}"


@bp.before_request
def _start_clock():
    g.started = time.monotonic()


def _replay(stored):
    status, body = stored
    return answers.respond(status, body, current_app.config["SETTINGS"],
                           headers={"Idempotent-Replayed": "true"})


@bp.route("/<any(justclick, mailkit, unsubscribe):route>", methods=["POST", "PUT"])
def hook(route):
    """Receive one webhook (or a batch) and answer only after the upstream answer was verified."""
    settings = current_app.config["SETTINGS"]
    dispatcher, ledger = current_app.extensions["dispatcher"], current_app.extensions["ledger"]
    raw = request.get_data(cache=True)
    auth = authorize(settings, request, raw)
    body = intake.parse(request.mimetype, raw, lambda: request.form.items(multi=True))
    g.one_click = isinstance(body, dict) and "List-Unsubscribe" in body  # RFC 8058: never a page
    defaults = canonical({k: v for k, v in request.args.items() if k not in CONTROL_ARGS})
    inbound = read_items(body, defaults)
    if inbound.ping:
        return jsonify(status="ok", message="Test received; nothing was sent.")
    names = dispatcher.names(DESTINATION_OF[route])
    items = validated(inbound, names, dispatcher)
    if _flag("dry_run", "X-Dry-Run"):
        return jsonify(dry_run_answer(items, dispatcher, inbound.batch))
    key = idempotency_key(route, auth, inbound)
    stored = ledger.stored_answer(key) if key else None
    if stored:
        return _replay(stored)
    plans = [plan_for(index, name, payload) for index, _, payloads in items for name, payload in payloads.items()]
    respond_async = "respond-async" in request.headers.get("Prefer", "").lower()
    try:
        status, answer, outcomes = current_app.extensions["relay"].submit(
            plans, lambda rid, outs: answers.build(rid, outs, inbound.batch), key, respond_async)
    except IntegrityError:  # the same key arrived twice at once: the other one answers
        return _replay(ledger.stored_answer(key))
    targets = {plan.index: plan.target for plan in plans}
    webhook_line(request.path, inbound.source, auth, outcomes, status,
                 (time.monotonic() - g.started) * 1000, targets)
    return answers.respond(status, answer, settings, redirect_to=items[0][1].redirect)


def dry_run_answer(items, dispatcher, batch):
    """Everything but the send: the outbound requests, secrets redacted."""
    results = []
    for index, _, payloads in items:
        for name, payload in payloads.items():
            entry = {"destination": name, "status": "dry_run", "code": None, "message": "not sent (dry run)",
                     "request": dispatcher.preview(name, payload)}
            results.append({"index": index, **entry} if batch else entry)
    return {"id": None, "status": "dry_run", "results": results}
