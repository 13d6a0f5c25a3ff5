"""The sandbox's simulators driven by the real connectors: every steering marker; signatures still checked."""

import os
import threading
import time

import pytest

import sandbox
from connectors.justclick import JustClick
from connectors.mailkit import Mailkit
from sandbox.mailkit import sandbox_id
from tests.helpers import post

A = "anna@example.com"
DESTINATIONS = ("justclick", "mailkit-json", "mailkit-xmlrpc")


@pytest.fixture(scope="module")
def sims():
    return sandbox.start_simulators()


def connector(sims, destination, timeout=2.0, secret=None, login=None):
    """A connector built as the app builds it, pointed at this process's simulators."""
    if destination == "justclick":
        login = login or sims["justclick_login"]
        url = sims["justclick_api_url"].replace(f"/{sims['justclick_login']}/", f"/{login}/")
        return JustClick(login, secret or sims["justclick_secret"], url, timeout)
    transport = destination.split("-")[1]
    return Mailkit(sims["mailkit_client_id"], secret or sims["mailkit_client_md5"],
                   sims[f"mailkit_{transport}_url"], timeout, transport=transport)


def send(sims, destination, address, **options):
    payload = ({"lead_email": address, "rass_name": sims["justclick_group"]} if destination == "justclick"
               else {"email": address, "ID_email": None, "ID_send_message": None, "send_optout": True,
                     "timeout_days": None})
    return connector(sims, destination, **options).send(payload)


def outcome(result):
    return result.status, result.code, result.error_kind, result.transient


NOT_FOUND_JC = ("not_subscribed", "801", None, False)
DOWN = ("failed", "http_503", "connection", True)
RATE_LIMITED = ("failed", "http_429", "rate_limit", True)


@pytest.mark.parametrize("destination, address, expected", [
    ("justclick", A, ("unsubscribed", "0", None, False)),
    ("mailkit-json", A, ("unsubscribed", "1", None, False)),
    ("mailkit-xmlrpc", A, ("unsubscribed", str(sandbox_id(A)), None, False)),
    ("justclick", "anna+notfound@example.com", NOT_FOUND_JC),
    ("justclick", "Anna+NotFound@Example.com", NOT_FOUND_JC),
    ("mailkit-json", "anna+notfound@example.com", ("not_subscribed", "1", None, False)),
    ("mailkit-xmlrpc", "anna+notfound@example.com", ("not_subscribed", None, None, False)),
    ("justclick", "anna+down@example.com", DOWN),
    ("mailkit-json", "anna+down@example.com", DOWN),
    ("mailkit-xmlrpc", "anna+down@example.com", DOWN),
    ("justclick", "anna+badhash@example.com", ("failed", "0", "verification", False)),
    ("mailkit-json", "anna+badhash@example.com", ("failed", "0", "upstream", False)),
    ("mailkit-xmlrpc", "anna+badhash@example.com", ("failed", None, "verification", False)),
    ("justclick", "anna+ratelimit@example.com", ("failed", "8", "rate_limit", True)),
    ("mailkit-json", "anna+ratelimit@example.com", RATE_LIMITED),
    ("mailkit-xmlrpc", "anna+ratelimit@example.com", RATE_LIMITED),
    ("mailkit-json", "not-an-address", ("rejected", "1", "invalid_request", False)),
], ids=lambda value: value if isinstance(value, str) else value[0])
def test_each_marker_gets_its_answer(sims, destination, address, expected):
    assert outcome(send(sims, destination, address)) == expected


@pytest.mark.parametrize("destination", DESTINATIONS)
def test_any_other_address_is_unsubscribed_every_time(sims, destination):
    first, second = (send(sims, destination, "bob.repeat@example.com") for _ in range(2))
    assert first.status == second.status == "unsubscribed"


@pytest.mark.parametrize("destination", DESTINATIONS)
def test_slow_answers_after_its_delay(sims, destination):
    started = time.monotonic()
    result = send(sims, destination, "anna+slow@example.com", timeout=0.3)
    assert outcome(result) == ("failed", None, "connection", True)
    assert "did not answer within 0.3 s" in result.message
    assert time.monotonic() - started < sandbox.SLOW_SECONDS
    assert send(sims, destination, A, timeout=0.3).status == "unsubscribed"  # the same timeout suffices


def test_slow_combines_with_an_outcome_marker(sims):
    started = time.monotonic()
    result = send(sims, "justclick", "anna+slow+notfound@example.com", timeout=sandbox.SLOW_SECONDS + 3)
    assert outcome(result) == NOT_FOUND_JC
    assert time.monotonic() - started >= sandbox.SLOW_SECONDS


@pytest.mark.parametrize("destination, credentials, expected", [
    # The simulator signs its code-4 answer with the real secret, so our check cannot verify it.
    ("justclick", {"secret": "not-the-sandbox-secret"}, ("failed", "4", "verification", False)),
    ("justclick", {"login": "intruder"}, ("failed", "5", "configuration", False)),
    ("mailkit-json", {"secret": "0" * 32}, ("failed", "1", "configuration", False)),
    ("mailkit-xmlrpc", {"secret": "0" * 32}, ("failed", None, "configuration", False)),
], ids=["justclick-secret", "justclick-login", "mailkit-json-md5", "mailkit-xmlrpc-md5"])
def test_signatures_and_credentials_are_still_checked(sims, destination, credentials, expected):
    result = send(sims, destination, A, **credentials)
    assert outcome(result) == expected
    assert sims["justclick_secret"] not in result.message and sims["mailkit_client_md5"] not in result.message


def test_start_is_idempotent_and_thread_safe(sims):
    seen = []
    threads = [threading.Thread(target=lambda: seen.append(sandbox.start_simulators())) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert seen == [sims] * 8


def test_a_forked_process_starts_its_own_simulators(sims):
    """gunicorn forks its workers: each must serve from its own simulators, not the parent's dead threads."""
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: report its JustClick URL and whether a call through it worked
        try:
            child = sandbox.start_simulators()
            status = send(child, "justclick", A).status
            os.write(write_end, f"{child['justclick_api_url']} {status}".encode())
        finally:
            os._exit(0)
    os.close(write_end)
    with os.fdopen(read_end) as pipe:
        url, status = pipe.read().split()
    os.waitpid(pid, 0)
    assert (status, url != sims["justclick_api_url"]) == ("unsubscribed", True)
    assert send(sims, "justclick", A).status == "unsubscribed"  # the parent's still serve


@pytest.mark.parametrize("transport", ["json", "xmlrpc"])
def test_the_app_configured_by_environment_reaches_both_simulators(make_app, sims, transport):
    client = make_app(**sandbox.environment(sims, transport)).test_client()
    response = post(client, {"email": "carol+notfound@example.com"})
    assert response.status_code == 200, response.json
    assert [(r["destination"], r["status"]) for r in response.json["results"]] == [
        ("justclick", "not_subscribed"), ("mailkit", "not_subscribed")]
    response = post(client, "email=dave%40example.com", kind="raw",
                    content_type="application/x-www-form-urlencoded")
    assert (response.status_code, response.json["status"]) == (200, "unsubscribed")
