"""Rate limits: whom a request counts against (an IPv6 client by its /64, a valid signed link by itself),
and a limit store that fails (Redis refusing, or accepting and never answering) never stops intake."""

import logging
import socket

import pytest
from limits import parse

from edge.clients import client_key
from edge.limitstore import REST_SECONDS, LimitStore
from links.make import make_link
from links.tokens import LinkSigner
from tests.conftest import TOKEN, make_worker
from tests.e2e.upstreams import SilentServer
from tests.helpers import post

SECRET = "link-secret-for-the-tests-0123456789abcdef"
FORM_KEY = "public-form-key-123"
ONE_CLICK = {"List-Unsubscribe": "One-Click"}


@pytest.mark.parametrize("address, key", [
    ("192.0.2.7", "192.0.2.7"),
    ("2001:db8:1:2::1", "2001:db8:1:2::/64"),
    ("2001:db8:1:2:ffff:ffff:ffff:ffff", "2001:db8:1:2::/64"),
    ("2001:db8:1:3::1", "2001:db8:1:3::/64"),
    ("::ffff:192.0.2.7", "192.0.2.7"),
    ("fe80::1%eth0", "fe80::/64"),
    ("", "unknown"),
    (None, "unknown"),
    ("not-an-address", "unknown"),
    ("198.051.100.077", "unknown"),
    ("[2001:db8:1:2::1]", "2001:db8:1:2::/64"),
], ids=["ipv4", "ipv6", "ipv6-same-64", "ipv6-next-64", "ipv4-mapped", "zone-index", "empty", "none",
        "no-ip", "leading-zeros", "bracketed"])
def test_client_key(address, key):
    assert client_key(address) == key


def form_post(client, n, address):
    """A public form post (a form key, no credential) from `address`; its HTTP status."""
    return client.post(f"/hooks/justclick?key={FORM_KEY}", data={"email": f"p{n}@example.com"},
                       environ_base={"REMOTE_ADDR": address}).status_code


@pytest.mark.parametrize("addresses, accepted", [
    ([f"2001:db8:1:2::{n:x}" for n in range(15)], 10),
    ([f"2001:db8:1:2:{n:x}::1" for n in range(15)], 10),
    ([f"2001:db8:1:{n:x}::1" for n in range(15)], 15),
    ([f"198.51.100.{n}" for n in range(15)], 15),
], ids=["rotating-interface-ids", "rotating-within-the-64", "one-per-64", "ipv4-addresses"])
def test_ipv6_clients_are_counted_per_64(make_app, justclick, addresses, accepted):
    app = make_app(FORM_KEYS=FORM_KEY, PUBLIC_RATE_LIMIT="10 per minute", TRUSTED_PROXY_HOPS="0")
    client = app.test_client()
    codes = [form_post(client, n, address) for n, address in enumerate(addresses)]
    assert codes == [200] * accepted + [429] * (len(addresses) - accepted)
    assert len(justclick.requests) == accepted


def link_app(make_app, **env):
    return make_app(LINK_SECRETS=SECRET, PUBLIC_URL="https://u.example.com", TRUSTED_PROXY_HOPS="0", **env)


def link_path(target):
    url = make_link(LinkSigner([SECRET]), "https://u.example.com", target, to="justclick")["url"]
    return "/u/" + url.rsplit("/u/", 1)[1]


def test_one_clicks_from_one_mailbox_provider_all_reach_the_vendor(make_app, justclick):
    app, sent = link_app(make_app), [f"o{n}@example.com" for n in range(30)]
    client = app.test_client()
    for target in sent:
        justclick.subscribe(target, "Main")
    codes = [client.post(link_path(target), data=ONE_CLICK, environ_base={"REMOTE_ADDR": "209.85.220.41"})
             .status_code for target in sent]
    make_worker(app).drain()
    assert codes == [200] * 30
    assert len(justclick.requests) == 30 and not any(justclick.groups["Main"] & set(sent))


@pytest.mark.parametrize("path, addresses", [
    (lambda n: "/u/forged." + "A" * n, ["192.0.2.1"]),
    (lambda n: link_path("same@example.com"), ["192.0.2.1", "198.51.100.2", "203.0.113.3"]),
], ids=["forged-links-count-against-their-client", "one-valid-link-counts-against-itself"])
def test_what_still_counts(make_app, justclick, path, addresses):
    app = link_app(make_app, PUBLIC_RATE_LIMIT="10 per minute")
    client = app.test_client()
    sources = [{"REMOTE_ADDR": addresses[n % len(addresses)]} for n in range(12)]
    codes = [client.post(path(n + 1), data=ONE_CLICK, environ_base=source).status_code
             for n, source in enumerate(sources)]
    assert 429 not in codes[:10] and codes[10:] == [429, 429]


def test_forged_links_and_form_posts_share_the_client_limit(make_app, justclick):
    app = link_app(make_app, FORM_KEYS=FORM_KEY, PUBLIC_RATE_LIMIT="4 per minute")
    client = app.test_client()
    forged = [client.post("/u/forged.x", data=ONE_CLICK).status_code for _ in range(2)]
    forms = [form_post(client, n, "127.0.0.1") for n in range(3)]
    assert 429 not in forged and forms == [200, 200, 429]


@pytest.fixture(params=["refusing", "silent"])
def broken_redis(request):
    if request.param == "refusing":
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            port = probe.getsockname()[1]  # bound, never listening: connections are refused
            yield f"redis://127.0.0.1:{port}/0", None
        return
    server = SilentServer()
    yield server.uri, server
    server.stop()


def test_a_failing_limit_store_never_stops_intake(make_app, justclick, broken_redis, caplog):
    uri, silent = broken_redis
    app = link_app(make_app, FORM_KEYS=FORM_KEY, RATE_LIMIT_STORAGE_URI=uri, PUBLIC_RATE_LIMIT="3 per minute")
    client = app.test_client()
    justclick.subscribe("one@example.com", "Main")
    with caplog.at_level(logging.INFO, logger="unsub_relay.web"):
        hooks = [post(client, {"email": f"h{n}@example.com"}, route="justclick").status_code
                 for n in range(3)]
        forms = [form_post(client, n, "127.0.0.1") for n in range(4)]
        click = client.post(link_path("one@example.com"), data=ONE_CLICK).status_code
        ready = client.get("/readyz")
    make_worker(app).drain()
    assert hooks == [200] * 3 and forms == [200, 200, 200, 429] and click == 200  # counted in the process
    assert "one@example.com" not in justclick.groups["Main"]
    assert ready.json["rate_limits"]["status"] == "degraded" and ready.json["rate_limits"]["store"] == "redis"
    warnings = [r for r in caplog.records if "rate limits: the redis store failed" in r.getMessage()]
    assert len(warnings) == 1  # once, not once per request
    if silent is not None:
        assert len(silent.accepted) == 1  # asked once, then left to rest


def test_readyz_asks_the_store_itself(make_app, broken_redis):
    """A process none of whose requests met the failure (another gunicorn worker took them) still says so."""
    uri, _ = broken_redis
    ready = make_app(RATE_LIMIT_STORAGE_URI=uri).test_client().get("/readyz")
    assert ready.json["rate_limits"]["status"] == "degraded"


def test_readyz_with_a_working_redis_says_ok(make_app):
    ready = make_app(RATE_LIMIT_STORAGE_URI="redis://127.0.0.1:6379/14").test_client().get("/readyz")
    assert ready.json["rate_limits"] == {"store": "redis", "status": "ok"}


class Clock:
    def __init__(self):
        self.now = 1000.0

    def __call__(self):
        return self.now


def test_the_store_is_asked_again_after_its_rest():
    server, clock = SilentServer(), Clock()
    store, item = LimitStore(server.uri, clock), parse("2 per minute")
    try:
        assert [store.hit(item, "test-rest", "k")[0] for _ in range(3)] == [True, True, False]
        assert len(server.accepted) == 1 and store.health()["status"] == "degraded"
        clock.now += REST_SECONDS
        assert store.hit(item, "test-rest", "k")[0] is False  # still counted here, Redis asked once more
        assert len(server.accepted) == 2
    finally:
        server.stop()


def test_a_working_redis_counts_for_every_process():
    import uuid
    key, item = uuid.uuid4().hex, parse("2 per minute")  # a key of its own: nothing to flush
    one, two = LimitStore("redis://127.0.0.1:6379/14"), LimitStore("redis://127.0.0.1:6379/14")
    assert [one.hit(item, "test-shared", key)[0], two.hit(item, "test-shared", key)[0],
            one.hit(item, "test-shared", key)[0]] == [True, True, False]
    assert one.health() == {"store": "redis", "status": "ok"}
