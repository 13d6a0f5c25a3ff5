"""Signed per-recipient links: GET /u/<token> (a page; never unsubscribes), POST /u/<token> (unsubscribes
through the delivery service, idempotently) and POST /links (a sender makes links)."""

import hashlib
import time

from flask import Blueprint, jsonify, request
from marshmallow import ValidationError

from edge.auth import authorize
from errors import Forbidden, Invalid, NotConfigured
from links.make import make_link, vendor_problem
from links.tokens import InvalidLink
from masking import mask
from pages import error_page, render_page
from schemas.fields import Email, Phone, parse_duration
from schemas.inbound import canonical
from webhooks import answers
from webhooks.errors import as_pages

ONE_CLICK = "One-Click"
MAX_LINKS = 100


def make_blueprint(relay):
    """GET and POST /u/<token> (a person's: every error a page; the page's GET under the client's limit) and
    POST /links (under the caller's limit), over the relay's settings, service, signer and limits."""
    bp, pages, limits = Blueprint("links", __name__), as_pages(relay.settings), relay.limits

    def page(token):
        return unsubscribe_page(relay, token)

    def post(token):
        return unsubscribe_post(relay, token)

    def make():
        return make_links(relay)
    bp.add_url_rule("/u/<path:token>", "unsubscribe_page", pages(limits.per_client(page)), methods=["GET"])
    bp.add_url_rule("/u/<path:token>", "unsubscribe_post", pages(post), methods=["POST"])
    bp.add_url_rule("/links", "make_links", limits.per_caller(make), methods=["POST"])
    return bp


def _claims(signer, token):
    if signer is None:
        raise InvalidLink()  # no LINK_SECRETS: no link is valid (the same answer as a forged one)
    claims = signer.verify(token, time.time())
    if vendor_problem(claims):  # signed for a vendor that is gone, or that no longer takes what it names
        raise InvalidLink()
    return claims


def _redirects(settings):
    return (settings.success_url, settings.failure_url)


def unsubscribe_page(relay, token):
    """The confirmation page: the masked address and one button. Link scanners GET; nobody is unsubscribed."""
    try:
        claims = _claims(relay.link_signer, token)
    except InvalidLink:
        return error_page("invalid_link")
    return render_page("confirm.html", masked=mask(claims.target), redirect_urls=_redirects(relay.settings))


def _one_click():
    """RFC 8058: the mail client POSTs `List-Unsubscribe=One-Click` (urlencoded or multipart)."""
    return request.mimetype in answers.FORM_TYPES and request.form.get("List-Unsubscribe") == ONE_CLICK


def unsubscribe_post(relay, token):
    """Unsubscribe the link's one target. One-click: a plain 200 at once (the worker sends it); a person's
    button: the result page or a 303. A repeat of the same link sends nothing new."""
    settings, service = relay.settings, relay.service
    try:
        claims = _claims(relay.link_signer, token)
    except InvalidLink:
        relay.limits.check_client()  # what is not signed counts against its client
        return error_page("invalid_link")
    relay.limits.check_link(token)  # its own count: mailbox providers post one-clicks from a few addresses
    fields = {claims.kind: claims.target, "group": claims.group, "campaign": claims.campaign}
    deliveries = service.plan([(0, canonical({k: v for k, v in fields.items() if v is not None}))],
                              to=claims.to, channel="link", auth="link")
    key = "link:" + hashlib.sha256(token.encode()).hexdigest()
    one_click = _one_click()
    answer = service.submit(deliveries, key, respond_async=one_click, sender="web")
    if one_click:  # never a redirect, never a page: the mail client only reads the status
        return "Unsubscribed.\n", 200, {"Content-Type": "text/plain; charset=utf-8",
                                          "Cache-Control": "no-store"}
    return answers.respond(answer, settings, page=True)


def _link_request(item, settings, signer):
    """One link from one object: target normalised as a webhook's, claims checked by the signer."""
    if not isinstance(item, dict):
        raise ValidationError({"_schema": ["Each item must be an object."]})
    target = item.get("email") or item.get("phone")
    field = Email() if item.get("email") else Phone()
    target = field.deserialize(target) if target else None
    if not target:
        raise ValidationError({"email": ["An email address or phone number is required."]})
    expires = parse_duration(item["expires"]) if item.get("expires") else None
    return make_link(signer, settings.public_url or request.host_url, target, item.get("to", "all"),
                     item.get("group"), item.get("campaign"), expires)


def make_links(relay):
    """A sender with a server token makes links: one object -> {url, headers}; an array -> a list."""
    settings, signer = relay.settings, relay.link_signer
    auth = authorize(settings, request, request.get_data(cache=True))
    if auth == "form_key":
        raise Forbidden("A public form key unsubscribes one address per request and nothing more: "
                        "making links needs a server token (WEBHOOK_TOKENS).")
    if signer is None or not signer.signs:
        # A LINK_SECRETS that was set but refused says why (too short...), not merely "set it".
        problem = next((p for p in settings.problems if p.startswith("LINK_SECRETS")), None)
        raise NotConfigured(problem or "set LINK_SECRETS (and PUBLIC_URL) to make unsubscribe links")
    body = request.get_json(silent=True)
    items = body if isinstance(body, list) else [body]
    if not items or len(items) > MAX_LINKS:
        raise Invalid({"_schema": [f"Send one object or an array of 1 to {MAX_LINKS}."]})
    made, errors = [], {}
    for index, item in enumerate(items):
        try:
            made.append(_link_request(item, settings, signer))
        except (ValidationError, ValueError) as exc:
            errors[index] = exc.messages if isinstance(exc, ValidationError) else {"_schema": [str(exc)]}
    if errors:
        raise Invalid(errors if isinstance(body, list) else errors[0], "No links were made.")
    return jsonify(made if isinstance(body, list) else made[0])
