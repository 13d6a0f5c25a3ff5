"""Public surfaces: signed links (made three ways), one-click and button, form keys and their limits, the
honeypot, Turnstile, rate limits (in memory, on Redis across gunicorn workers, past a forged X-Forwarded-For)."""

import json
import signal
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
import requests

from links.make import make_link
from links.tokens import LinkClaims, LinkSigner
from tests.conftest import TOKEN, make_worker
from tests.helpers import post
from tests.procs import free_port, procfile, spawn, up as _up, wait_for

SECRET = "link-secret-for-the-tests-0123456789abcdef"
A = "anna@example.com"
FORM_KEY = "public-form-key-123"
ONE_CLICK = {"List-Unsubscribe": "One-Click"}


@pytest.fixture
def public_app(make_app):
    return make_app(LINK_SECRETS=SECRET, PUBLIC_URL="https://unsub.example.com", FORM_KEYS=FORM_KEY,
                    TRUSTED_PROXY_HOPS="0")


def token_of(url):
    return url.rsplit("/u/", 1)[1]


def made_three_ways(app, target=A, **claims):
    """The same link from `flask links make`, from POST /links and from the offline recipe."""
    args = ["links", "make", target] + [f"--{k}={v}" for k, v in claims.items()]
    cli = json.loads(app.test_cli_runner().invoke(args=args).output)
    http = app.test_client().post("/links", json={"email": target, **claims},
                                  headers={"Authorization": f"Bearer {TOKEN}"}).json
    recipe = make_link(LinkSigner([SECRET]), "https://unsub.example.com", target, **claims)
    return [cli, http, recipe]


def test_a_link_made_any_of_three_ways_verifies_and_get_sends_nothing(public_app, justclick, mailkit):
    for made in made_three_ways(public_app, to="justclick", group="Main"):
        assert made["headers"] == {"List-Unsubscribe": f"<{made['url']}>",
                                   "List-Unsubscribe-Post": "List-Unsubscribe=One-Click"}
        page = public_app.test_client().get("/u/" + token_of(made["url"]))
        text = page.get_data(as_text=True)
        assert page.status_code == 200 and "a***@e***.com" in text and A not in text
        assert page.headers["Referrer-Policy"] == "no-referrer" and "script" not in page.headers[
            "Content-Security-Policy"].replace("'none'", "")
    assert justclick.requests == [] and mailkit.requests == []


@pytest.mark.parametrize("kind", ["urlencoded", "multipart"])
def test_one_click_answers_200_at_once_and_sends_once(public_app, justclick, kind):
    justclick.subscribe(A, "Main")
    [made, _, _] = made_three_ways(public_app, to="justclick", group="Main")
    client, path = public_app.test_client(), "/u/" + token_of(made["url"])
    send = {"data": ONE_CLICK} if kind == "urlencoded" else {"data": ONE_CLICK, "content_type": "multipart/form-data"}
    first = client.post(path, **send)
    assert first.status_code == 200 and "Location" not in first.headers and first.mimetype == "text/plain"
    make_worker(public_app).drain()
    assert len(justclick.requests) == 1 and A not in justclick.groups["Main"]
    again = client.post(path, **send)
    make_worker(public_app).drain()
    assert again.status_code == 200 and len(justclick.requests) == 1


@pytest.mark.parametrize("settings, location", [({}, None), ({"UNSUBSCRIBE_SUCCESS_URL": "https://shop.example.com/bye"},
                                                          "https://shop.example.com/bye")], ids=["page", "redirect"])
def test_a_person_pressing_the_button_gets_the_result(make_app, justclick, settings, location):
    app = make_app(LINK_SECRETS=SECRET, PUBLIC_URL="https://unsub.example.com", **settings)
    justclick.subscribe(A, "Main")
    [made, _, _] = made_three_ways(app, to="justclick")
    answer = app.test_client().post("/u/" + token_of(made["url"]), data={})
    assert len(justclick.requests) == 1
    if location:
        assert (answer.status_code, answer.headers["Location"]) == (303, location)
    else:
        assert answer.status_code == 200 and "You are unsubscribed" in answer.get_data(as_text=True)


@pytest.mark.parametrize("mangle", [
    lambda t: t[:-1] + ("A" if t[-1] != "A" else "B"), lambda t: "x" + t, lambda t: t.split(".")[0],
    lambda t: LinkSigner(["another-secret-entirely-0123456789abcdef"]).sign(LinkClaims(A)),
    lambda t: LinkSigner([SECRET]).sign(LinkClaims(A, expires=1000)), lambda t: "%00" * 3,
], ids=["last-byte", "prefix", "no-signature", "wrong-secret", "expired", "nul"])
def test_an_invalid_link_gets_the_same_short_400(public_app, justclick, mangle):
    [made, _, _] = made_three_ways(public_app)
    path = "/u/" + mangle(token_of(made["url"]))
    for method in ("get", "post"):
        answer = getattr(public_app.test_client(), method)(path, data=ONE_CLICK if method == "post" else None)
        assert answer.status_code == 400 and "Location" not in answer.headers
    assert justclick.requests == []


def test_a_rotated_secret_still_verifies_old_links(make_app, justclick):
    old = made_three_ways(make_app(LINK_SECRETS=SECRET, PUBLIC_URL="https://u.example.com"))[0]
    rotated = make_app(LINK_SECRETS=f"new-secret-0123456789abcdef0123456789 {SECRET}", PUBLIC_URL="https://u.example.com")
    assert rotated.test_client().get("/u/" + token_of(old["url"])).status_code == 200
    dropped = make_app(LINK_SECRETS="new-secret-0123456789abcdef0123456789", PUBLIC_URL="https://u.example.com")
    assert dropped.test_client().get("/u/" + token_of(old["url"])).status_code == 400


@pytest.mark.parametrize("call", [
    lambda c: post(c, [{"email": A}, {"email": "b@example.com"}], token=None, query=f"key={FORM_KEY}"),
    lambda c: c.post(f"/links?key={FORM_KEY}", json={"email": A}),
    lambda c: post(c, {"email": A}, token=None, query=f"key={FORM_KEY}&dry_run=1"),
], ids=["batch", "links", "dry-run"])
def test_a_form_key_may_do_one_address_and_nothing_more(public_app, justclick, call):
    answer = call(public_app.test_client())
    assert answer.status_code == 403 and "one address per request" in answer.json["message"]
    assert justclick.requests == []


def test_a_form_key_unsubscribes_one_address(public_app, justclick):
    justclick.subscribe(A, "Main")
    answer = post(public_app.test_client(), {"email": A}, "form", route="justclick", token=None,
                  query=f"key={FORM_KEY}")
    assert answer.status_code == 200 and len(justclick.requests) == 1


def test_the_honeypot_answers_success_and_sends_nothing(public_app, justclick):
    answer = post(public_app.test_client(), {"email": A, "website": "http://spam.example"}, "form", token=None,
                  query=f"key={FORM_KEY}")
    assert (answer.status_code, answer.json["status"]) == (200, "unsubscribed") and justclick.requests == []


class Siteverify:
    """A local stand-in for Turnstile's siteverify: answers as told, records what it was asked."""

    def __init__(self):
        self.answer, self.asked = {"success": True}, []
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_POST(self):
                fake.asked.append(self.rfile.read(int(self.headers["Content-Length"])).decode())
                body = json.dumps(fake.answer).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/siteverify"


@pytest.mark.parametrize("answer, response, status, sends", [
    ({"success": True}, "tok-ok", 200, 1), ({"success": False, "error-codes": ["invalid-input-response"]},
                                             "tok-bad", 403, 0),
    ({"success": True}, "", 403, 0), (None, "tok-ok", 403, 0),
], ids=["pass", "fail", "missing", "unreachable"])
def test_turnstile(make_app, justclick, answer, response, status, sends):
    fake = Siteverify()
    url = fake.url if answer is not None else "http://127.0.0.1:1/siteverify"
    fake.answer = answer
    app = make_app(FORM_KEYS=FORM_KEY, TURNSTILE_SECRET="ts-secret", TURNSTILE_VERIFY_URL=url)
    justclick.subscribe(A, "Main")
    result = post(app.test_client(), {"email": A, "cf-turnstile-response": response}, "form", route="justclick",
                  token=None, query=f"key={FORM_KEY}")
    assert result.status_code == status and len(justclick.requests) == sends
    if answer is not None and response:
        assert "secret=ts-secret" in fake.asked[0] and f"response={response}" in fake.asked[0]
    fake.server.shutdown()
    fake.server.server_close()


def test_the_public_limit_holds_past_a_forged_forwarded_for(make_app, justclick):
    app = make_app(FORM_KEYS=FORM_KEY, PUBLIC_RATE_LIMIT="3 per minute", TRUSTED_PROXY_HOPS="1")
    client, codes = app.test_client(), []
    for n in range(5):  # the router appends the real client (198.51.100.7); the client forges the rest
        headers = {"X-Forwarded-For": f"203.0.113.{n}, 198.51.100.7"}
        codes.append(post(client, {"email": f"p{n}@example.com"}, "form", route="justclick", token=None,
                          query=f"key={FORM_KEY}", headers=headers))
    assert [c.status_code for c in codes] == [200, 200, 200, 429, 429]
    assert int(codes[3].headers["Retry-After"]) > 0 and codes[3].json["status"] == "rate_limited"
    assert len(justclick.requests) == 3


def test_a_person_over_the_limit_gets_a_page(make_app):
    app = make_app(LINK_SECRETS=SECRET, PUBLIC_URL="https://u.example.com", PUBLIC_RATE_LIMIT="1 per minute")
    [made, _, _] = made_three_ways(app)
    client, path = app.test_client(), "/u/" + token_of(made["url"])
    assert client.get(path).status_code == 200
    over = client.get(path, headers={"Accept-Language": "cs"})
    assert over.status_code == 429 and over.mimetype == "text/html" and "Retry-After" in over.headers


@pytest.mark.slow
def test_the_limit_is_shared_by_two_gunicorn_workers_through_redis(env, tmp_path, justclick):
    import redis
    redis.Redis(host="127.0.0.1", port=6379, db=15).flushdb()
    port = free_port()
    web = spawn(procfile()["web"], {**env, "PORT": str(port), "WEB_CONCURRENCY": "2", "FORM_KEYS": FORM_KEY,
                                    "PUBLIC_RATE_LIMIT": "4 per minute", "TRUSTED_PROXY_HOPS": "0",
                                    "RATE_LIMIT_STORAGE_URI": "redis://127.0.0.1:6379/15", "AUTO_MIGRATE": "1"},
                tmp_path, "web")
    base = f"http://127.0.0.1:{port}"
    try:
        assert wait_for(lambda: _up(base), 60), (tmp_path / "web.log").read_text()
        codes = [requests.post(f"{base}/hooks/justclick?key={FORM_KEY}", data={"email": f"r{n}@example.com"},
                               headers={"Connection": "close"}, timeout=10).status_code for n in range(10)]
    finally:
        web.send_signal(signal.SIGTERM)
        web.wait(30)
    assert codes[:4] == [200] * 4 and codes[4:] == [429] * 6  # per process memory would have let 8 through
    assert len(justclick.requests) == 4
