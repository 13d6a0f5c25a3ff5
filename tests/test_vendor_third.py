"""A vendor is one module: Acme (tests/vendor_acme.py), registered with registry.register() before the app
is built, gets a webhook, a signed link and a CLI unsubscribe, and no other file names it."""

import json

import pytest

from connectors import registry
from sandbox.server import SimulatorServer
from schemas.inbound import canonical
from tests.conftest import TOKEN
from tests.helpers import post
from tests.vendor_acme import AcmeVendor, signature

A = "anna@example.com"
KEY = "acme-test-key-0123456789"
LINK_SECRET = "link-secret-for-the-tests-0123456789abcdef"


class AcmeFake(SimulatorServer):
    """Acme's API on 127.0.0.1: checks our signature, answers signed; `listed` are the addresses it holds."""

    def __init__(self):
        super().__init__()
        self.listed = set()

    def handle(self, path, headers, body):
        sent = json.loads(body)
        if sent["signature"] != signature(KEY, sent["address"], sent["list"] or ""):
            return 401, "text/plain", b"bad signature"
        result = "removed" if (sent["address"], sent["list"]) in self.listed else "absent"
        self.listed.discard((sent["address"], sent["list"]))
        signed = signature(KEY, result, sent["address"])
        answer = {"result": result, "address": sent["address"], "signature": signed}
        return 200, "application/json", json.dumps(answer).encode()

    def received(self):
        return [{k: v for k, v in json.loads(r["body"]).items() if k != "signature"} for r in self.requests]


@pytest.fixture(scope="module")
def acme():
    fake = AcmeFake().start()
    yield fake
    fake.stop()


@pytest.fixture
def acme_app(make_app, acme):
    """The service with Acme registered beside JustClick and Mailkit (and forgotten afterwards)."""
    acme.reset()
    acme.listed.clear()
    registry.register(AcmeVendor())
    try:
        yield make_app(ACME_URL=acme.base, ACME_KEY=KEY, ACME_MAX_RATE="0", LINK_SECRETS=LINK_SECRET,
                       PUBLIC_URL="https://unsub.example.com")
    finally:
        registry.unregister("acme")


def webhook(client, route, body):
    return post(client, body, route=route)


@pytest.mark.parametrize("route, body, listed, results", [
    ("acme", {"email": A, "segment": "VIP"}, {(A, "VIP")}, {"acme": "unsubscribed"}),
    ("acme", {"email": A}, set(), {"acme": "not_subscribed"}),
    ("unsubscribe", {"email": A, "group": "Main"}, {(A, "Main")},
     {"acme": "unsubscribed", "justclick": "not_subscribed", "mailkit": "not_subscribed"}),
], ids=["own-hook-alias", "own-hook-absent", "every-vendor"])
def test_a_webhook_reaches_the_third_vendor(acme_app, acme, justclick, mailkit, route, body, listed, results):
    acme.listed.update(listed)
    response = webhook(acme_app.test_client(), route, body)
    assert response.status_code == 200, response.json
    assert {r["destination"]: r["status"] for r in response.json["results"]} == results
    assert acme.received() == [{"address": A, "list": body.get("segment") or body.get("group")}]


@pytest.mark.parametrize("body, field", [
    ({"phone": "+420777123456"}, "acme"),
    ({"email": A, "segment": ""}, None),
    ({"email": A, "segment": "x" * 256}, "group"),
], ids=["phone-refused-by-acme", "empty-segment-is-no-group", "long-segment"])
def test_what_acme_refuses_is_a_422_and_nothing_is_sent(acme_app, acme, body, field):
    response = webhook(acme_app.test_client(), "acme", body)
    if field is None:
        assert response.status_code == 200
        return
    assert response.status_code == 422 and field in response.json["errors"]
    assert acme.requests == []


def test_a_signed_link_reaches_the_third_vendor(acme_app, acme):
    acme.listed.add((A, "VIP"))
    client = acme_app.test_client()
    made = client.post("/links", json={"email": A, "to": "acme", "group": "VIP"},
                       headers={"Authorization": f"Bearer {TOKEN}"})
    assert made.status_code == 200, made.json
    path = made.json["url"].removeprefix("https://unsub.example.com")
    assert client.get(path).status_code == 200 and acme.requests == []  # a scanner's GET sends nothing
    assert client.post(path, headers={"Accept": "text/html"}).status_code == 200
    assert acme.received() == [{"address": A, "list": "VIP"}]


@pytest.mark.parametrize("claims, message", [
    ({"phone": "+420777123456", "to": "acme"},
     "Acme takes email addresses only: a phone number needs to=all or to=mailkit"),
    ({"email": A, "to": "acme", "campaign": "7"}, "a campaign applies to Mailkit only"),
    ({"email": A, "to": "mailkit", "group": "VIP"}, "a group applies to JustClick and Acme only (to=all or "
                                                    "to=justclick or to=acme)"),
], ids=["phone", "campaign", "group-for-mailkit"])
def test_link_rules_come_from_the_vendors(acme_app, acme, claims, message):
    made = acme_app.test_client().post("/links", json=claims, headers={"Authorization": f"Bearer {TOKEN}"})
    assert made.status_code == 422 and message in json.dumps(made.json)


def test_the_cli_unsubscribes_at_the_third_vendor(acme_app, acme):
    acme.listed.add((A, "VIP"))
    result = acme_app.test_cli_runner().invoke(args=["unsubscribe", A, "--to", "acme", "--group", "VIP"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.output) == {"destination": "acme", "status": "unsubscribed", "code": "removed",
                                         "message": "removed"}
    assert acme.received() == [{"address": A, "list": "VIP"}]


def test_a_vendor_no_longer_registered_is_no_route_and_no_choice(make_app, acme):
    acme.reset()
    app = make_app(ACME_URL=acme.base, ACME_KEY=KEY)
    assert webhook(app.test_client(), "acme", {"email": A}).status_code == 404
    result = app.test_cli_runner().invoke(args=["unsubscribe", A, "--to", "acme"])
    assert result.exit_code == 2 and "Traceback" not in result.output
    assert acme.requests == []


@pytest.mark.parametrize("name", ["justclick", "all", "unsubscribe", "Acme", "ac-me", ""],
                         ids=["taken", "all", "every-vendor-route", "upper-case", "dash", "empty"])
def test_a_name_that_is_taken_or_no_plain_word_is_refused(name):
    vendor = AcmeVendor()
    vendor.name = name
    with pytest.raises(ValueError, match="cannot register"):
        registry.register(vendor)
    assert registry.names() == ("justclick", "mailkit")


def test_unregistering_takes_the_vendors_names_along(acme_app):
    assert canonical({"email": A, "segment": "VIP"}) == {"email": A, "group": "VIP"}
    registry.unregister("acme")
    assert canonical({"email": A, "segment": "VIP"}) == {"email": A}
    assert canonical({"rass_name": "VIP"}) == {"group": "VIP"}  # JustClick's names stay
