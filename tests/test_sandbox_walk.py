"""A newcomer's walk through the sandbox: the banner's table, top to bottom, gets what it says (then a plain
address still gets 200: a marker fails its own address only), the documented HTML form works with the
printed form key, and `flask check --online` passes against the simulators."""

from datetime import datetime

import pytest

from connectors.base import failure
from connectors.errors import APIConnectionError, RateLimitError
from sandbox.setup import FORM_KEY, sandbox_env
from sandbox.table import MARKERS, banner
from settings import load_settings
from store.breaker import CLOSED, GatePolicy
from tests.helpers import post

NO_CREDENTIALS = {"JUSTCLICK_LOGIN": None, "JUSTCLICK_SECRET": None, "MAILKIT_CLIENT_ID": None,
                  "MAILKIT_CLIENT_MD5": None, "JUSTCLICK_API_URL": None, "MAILKIT_API_URL": None,
                  "UPSTREAM_TIMEOUT": None}  # the default 10 s, as a newcomer has it: +slow takes 2 s


@pytest.fixture
def sandbox_app(make_app):
    return make_app(SANDBOX="1", **NO_CREDENTIALS)


def test_walking_the_table_top_to_bottom_gets_what_it_says(sandbox_app):
    client = sandbox_app.test_client()
    walked = []
    for address, *_ in (*MARKERS, ("anna.after@example.com", 200, "unsubscribed", "")):
        answer = post(client, {"email": address})
        walked.append((address, answer.status_code, answer.json["status"], answer.json["sandbox"]))
    expected = [(address, code, status, True) for address, code, status, _ in MARKERS]
    assert walked == [*expected, ("anna.after@example.com", 200, "unsubscribed", True)]


def test_the_banner_prints_the_table_the_keys_and_where_to_go():
    text = banner(8123, "tok-123", FORM_KEY)
    for address, code, status, _ in MARKERS:
        assert any(address in line and f"{code} {status}" in line for line in text.splitlines()), address
    assert "http://127.0.0.1:8123/" in text and "Bearer tok-123" in text and FORM_KEY in text
    assert "circuit breakers" in text and "never open" in text


def test_the_documented_html_form_works_with_the_printed_form_key(sandbox_app):
    """The README's plain HTML form: key, email, group, the honeypot left empty; a browser posts it."""
    answer = sandbox_app.test_client().post(
        "/hooks/unsubscribe", headers={"Accept": "text/html"},
        data={"key": FORM_KEY, "email": "form.user@example.com", "group": "Newsletter", "website": ""})
    assert answer.status_code == 200 and answer.mimetype == "text/html"
    assert "You are unsubscribed" in answer.get_data(as_text=True)


@pytest.mark.parametrize("configured, used", [("", FORM_KEY), ("mine-0123456789", "mine-0123456789")],
                         ids=["unset", "configured"])
def test_the_sandbox_sets_a_form_key_unless_one_is_configured(tmp_path, configured, used):
    env, problems = sandbox_env({"SANDBOX": "1", "FORM_KEYS": configured}, str(tmp_path))
    assert (env["FORM_KEYS"], problems) == (used, [])


def test_check_online_passes_against_the_simulators(sandbox_app):
    result = sandbox_app.test_cli_runner().invoke(args=["check", "--online"])
    assert result.exit_code == 0, result.output
    assert "could not tell" not in result.output and result.output.count('"ok": true') == 2


def test_the_tilda_ping_says_sandbox(sandbox_app):
    answer = post(sandbox_app.test_client(), "test=test", kind="raw",
                  content_type="application/x-www-form-urlencoded")
    assert answer.status_code == 200 and answer.json["sandbox"] is True


def test_the_sandbox_never_opens_a_breaker_and_live_settings_still_do():
    assert load_settings({"SANDBOX": "1", "BREAKER_FAILURES": "3"}).breaker_failures == 0
    assert load_settings({"BREAKER_FAILURES": "3"}).breaker_failures == 3


NOW = datetime(2026, 1, 1)
DOWN = failure("justclick", APIConnectionError("justclick answered HTTP 503"))
LIMITED = failure("justclick", RateLimitError("rate-limiting us", retry_after=60))


@pytest.mark.parametrize("failures, results, state", [
    (0, [LIMITED], CLOSED),
    (0, [DOWN] * 20, CLOSED),
    (1, [LIMITED], "open"),
    (2, [DOWN, DOWN], "open"),
], ids=["sandbox-rate-limit", "sandbox-outage", "live-rate-limit", "live-outage"])
def test_breaker_failures_zero_never_opens(failures, results, state):
    gate = {"destination": "justclick", "state": CLOSED, "failures": 0, "failed_probes": 0, "probing": 0,
            "opened_at": None, "next_probe_at": None, "reason": None, "tokens": 0.0, "tokens_at": None}
    policy = GatePolicy(failures)
    for result in results:
        policy.observe(gate, result, NOW)
    assert gate["state"] == state
