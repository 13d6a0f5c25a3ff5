"""`flask unsubscribe` and `flask check`: JSON on stdout, exit codes 0/1/2, no secrets, no tracebacks."""

import json

import pytest

EMAIL = "anna@example.com"


def run(runner, *args):
    result = runner.invoke(args=list(args))
    assert "Traceback" not in result.output
    return result.exit_code, json.loads(result.output.strip().splitlines()[-1])


@pytest.mark.parametrize("prepare, args, code, status", [
    ("jc", ["--to", "justclick"], 0, "unsubscribed"),
    (None, ["--to", "justclick"], 0, "not_subscribed"),
    (None, ["--to", "justclick", "--group", "Nope"], 1, "rejected"),
    ("mk", ["--to", "mailkit"], 0, "unsubscribed"),
    (None, ["--to", "mailkit", "--no-optout", "--timeout-days", "30", "--campaign", "77"], 0, "not_subscribed"),
    # Through the ledger now: a vendor that is down leaves the row pending for the worker (still exit 1).
    ("jc-down", ["--to", "justclick"], 1, "queued"),
], ids=["jc", "jc-nolist", "jc-unknown-group", "mk", "mk-options", "jc-down"])
def test_unsubscribe(runner, justclick, mailkit, prepare, args, code, status):
    if prepare in ("jc", "jc-down"):
        justclick.subscribe(EMAIL, "Main")
    if prepare == "jc-down":
        justclick.script[EMAIL] = "500"
    if prepare == "mk":
        mailkit.subscribe(EMAIL)
    exit_code, out = run(runner, "unsubscribe", EMAIL, *args)
    assert (exit_code, out["status"]) == (code, status)
    assert set(out) == {"destination", "status", "code", "message"}


def test_unsubscribe_all_lists_each_destination(runner, justclick, mailkit):
    justclick.subscribe(EMAIL, "Main")
    mailkit.subscribe(EMAIL)
    exit_code, out = run(runner, "unsubscribe", EMAIL, "--to", "all")
    assert exit_code == 0 and out["status"] == "unsubscribed"
    assert [(r["destination"], r["status"]) for r in out["results"]] == [
        ("justclick", "unsubscribed"), ("mailkit", "unsubscribed")]


def test_phone_goes_to_mailkit_normalised(runner, mailkit):
    mailkit.subscribe("+420777123456")
    exit_code, out = run(runner, "unsubscribe", "+420 777 123 456", "--to", "mailkit")
    assert (exit_code, out["status"]) == (0, "unsubscribed")
    assert mailkit.calls[-1][1]["parameters"]["email"] == "+420777123456"


@pytest.mark.parametrize("target, args, field", [
    ("not-an-email@", ["--to", "mailkit"], "email"),
    ("+420 12", ["--to", "mailkit"], "phone"),
    ("+420777123456", ["--to", "justclick"], "justclick"),
    ("+420777123456", ["--to", "all"], "justclick"),
    (EMAIL, ["--to", "mailkit", "--timeout-days", "7"], "timeout_days"),
    (EMAIL, ["--to", "mailkit", "--campaign", "abc"], "ID_send_message"),
])
def test_validation_errors_send_nothing(runner, justclick, mailkit, target, args, field):
    exit_code, out = run(runner, "unsubscribe", target, *args)
    assert exit_code == 2 and out["status"] == "invalid" and field in out["errors"]
    assert justclick.requests == [] and mailkit.requests == []


def test_unconfigured_destination_is_a_usage_error(make_app, mailkit):
    app = make_app(JUSTCLICK_LOGIN=None, JUSTCLICK_SECRET=None)
    exit_code, out = run(app.test_cli_runner(), "unsubscribe", EMAIL, "--to", "justclick")
    assert exit_code == 2 and "flask check" in out["errors"]["to"][0]


def test_unknown_destination_is_a_usage_error(runner):
    result = runner.invoke(args=["unsubscribe", EMAIL, "--to", "sendgrid"])
    assert result.exit_code == 2 and "Traceback" not in result.output


def test_check_reports_without_secrets(runner, env):
    result = runner.invoke(args=["check"])
    report = json.loads(result.output)
    assert result.exit_code == 0 and report["ok"]
    assert report["destinations"]["justclick"]["configured"] and report["destinations"]["mailkit"]["configured"]
    for secret in (env["JUSTCLICK_SECRET"], env["MAILKIT_CLIENT_MD5"], "tok-primary"):
        assert secret not in result.output


def test_check_names_what_is_missing_or_malformed(make_app):
    app = make_app(JUSTCLICK_SECRET=None, MAILKIT_CLIENT_ID="abc", MAILKIT_TRANSPORT="soap",
                   UPSTREAM_TIMEOUT="ten", WEBHOOK_TOKENS=None)
    result = app.test_cli_runner().invoke(args=["check"])
    report = json.loads(result.output)
    assert result.exit_code == 1 and not report["ok"]
    assert report["destinations"]["justclick"]["missing"] == ["JUSTCLICK_SECRET"]
    text = " ".join(report["problems"])
    for needle in ("MAILKIT_CLIENT_ID", "MAILKIT_TRANSPORT", "UPSTREAM_TIMEOUT", "WEBHOOK_TOKENS"):
        assert needle in text


def test_cli_unsubscribes_are_on_record_with_their_attempt(runner, justclick):
    justclick.subscribe(EMAIL, "Main")
    assert run(runner, "unsubscribe", EMAIL, "--to", "justclick")[0] == 0
    listed = runner.invoke(args=["deliveries", "list", "--target", EMAIL, "--json"])
    [row] = [json.loads(line) for line in listed.output.splitlines()]
    assert (row["status"], row["outcome"], row["attempts"]) == ("done", "unsubscribed", 1)
    shown = json.loads(runner.invoke(args=["deliveries", "show", row["id"]]).output)
    [attempt] = shown["attempt_history"]
    assert (attempt["sender"], attempt["outcome"], attempt["code"], attempt["number"]) == (
        "cli", "unsubscribed", "0", 1)
    assert attempt["duration_ms"] >= 0 and attempt["started_at"].endswith("Z")


@pytest.mark.parametrize("args, sends", [([], 1), (["--force"], 2)], ids=["dedup", "force"])
def test_cli_honours_the_dedup_window_unless_forced(runner, justclick, args, sends):
    justclick.subscribe(EMAIL, "Main")
    run(runner, "unsubscribe", EMAIL, "--to", "justclick")
    exit_code, out = run(runner, "unsubscribe", EMAIL, "--to", "justclick", *args)
    assert exit_code == 0 and len(justclick.requests) == sends


def online(app):
    result = app.test_cli_runner().invoke(args=["check", "--online"])
    assert "Traceback" not in result.output
    return result.exit_code, {c["destination"]: c for c in map(json.loads, result.output.splitlines())}


PROBE = "credential-check@unsub-relay.invalid"


@pytest.mark.parametrize("overrides, script, ok, needle", [
    ({}, None, True, "group JUSTCLICK_GROUP exists"),
    ({"JUSTCLICK_GROUP": "Nope"}, None, False, "fix JUSTCLICK_GROUP"),
    ({"JUSTCLICK_GROUP": None}, None, True, "JUSTCLICK_GROUP is not set"),
    ({"JUSTCLICK_SECRET": "wrong"}, None, False, "JUSTCLICK_SECRET"),
    ({"JUSTCLICK_LOGIN": "nobody"}, None, False, "JUSTCLICK_LOGIN"),
    ({}, 6, False, "IP address"),
    ({}, 7, False, "disabled"),
    ({}, "html", False, "could not tell"),
    ({}, 0, False, "could not tell"),
], ids=["ok", "wrong-group", "no-group", "wrong-key", "wrong-login", "denied-ip", "disabled", "html", "code-0"])
def test_check_online_justclick(make_app, justclick, overrides, script, ok, needle):
    if script is not None:
        justclick.script[PROBE] = script
    code, checks = online(make_app(MAILKIT_CLIENT_ID=None, **overrides))
    assert (code, checks["justclick"]["ok"]) == (0 if ok else 1, ok)
    assert needle in checks["justclick"]["message"]
    assert all(r["body"].startswith(b"lead_email=credential-check%40unsub-relay.invalid")
               for r in justclick.requests)


@pytest.mark.parametrize("overrides, script, ok, needle", [
    ({}, None, True, "accepted"),
    ({"MAILKIT_TRANSPORT": "xmlrpc"}, None, True, "accepted"),
    ({"MAILKIT_CLIENT_MD5": "wrong"}, None, False, "MAILKIT_CLIENT_MD5"),
    ({}, "disallowed_ip", False, "whitelisted IP"),
    ({}, "html", False, "could not tell"),
], ids=["json", "xmlrpc", "unauthorized", "disallowed-ip", "html"])
def test_check_online_mailkit(make_app, mailkit, overrides, script, ok, needle):
    if script is not None:
        mailkit.script["0"] = script
    if overrides.get("MAILKIT_TRANSPORT") == "xmlrpc":
        overrides["MAILKIT_API_URL"] = mailkit.url("xmlrpc")
    code, checks = online(make_app(JUSTCLICK_LOGIN=None, **overrides))
    assert (code, checks["mailkit"]["ok"], set(checks)) == (0 if ok else 1, ok, {"mailkit"})
    assert needle in checks["mailkit"]["message"]
    transport, sent = mailkit.calls[-1]
    if transport == "json":
        sent = (int(sent["parameters"]["ID_email"]), sent["parameters"]["send_optout"] == "TRUE")
    else:
        sent = (sent[2], sent[4])
    assert sent == (0, False)  # no such contact, and no confirmation mail to anyone


@pytest.mark.parametrize("target, field, says", [
    ("anna.example.com", "target", "Not an email address or phone number"),
    ("+420 777", "phone", "phone number"),
    ("anna@", "email", "email"),
], ids=["mistyped-address", "short-phone", "broken-address"])
def test_a_target_that_is_neither_says_what_it_should_be(runner, justclick, target, field, says):
    before = len(justclick.requests)
    exit_code, out = run(runner, "unsubscribe", target, "--to", "justclick")
    assert exit_code != 0 and out["status"] == "invalid"
    assert says.lower() in " ".join(out["errors"][field]).lower(), out
    assert len(justclick.requests) == before
