"""SANDBOX=1: the service end to end against the built-in simulators, through gunicorn and `flask sandbox`."""

import json
import signal
import time

import pytest
import requests

from tests.conftest import relay_of
from tests.procs import free_port, procfile, spawn, up as _up, wait_for

pytestmark = pytest.mark.slow
BODIES = [  # (content type, body) as Zapier, forms and XML senders send them
    ("application/json", json.dumps({"email": "anna@example.com"})),
    ("application/x-www-form-urlencoded", "email=bob%40example.com&group=Newsletter"),
    ("application/xml", "<unsubscribe><email>carl@example.com</email></unsubscribe>"),
]


def clean_env(tmp_path):
    """Nothing set but the ledger's place: what a newcomer has."""
    return {"DATABASE_URL": f"sqlite:///{tmp_path / 'sandbox.sqlite3'}", "SANDBOX": "1", "AUTO_MIGRATE": "1"}


def test_gunicorn_in_sandbox_mode_takes_json_form_and_xml_all_the_way(tmp_path):
    port = free_port()
    env = {**clean_env(tmp_path), "PORT": str(port), "WEB_CONCURRENCY": "2", "WEBHOOK_TOKENS": "try-me"}
    web = spawn(procfile()["web"], env, tmp_path, "web")
    base = f"http://127.0.0.1:{port}"
    try:
        assert wait_for(lambda: _up(base), 60), (tmp_path / "web.log").read_text()
        for ctype, body in BODIES:
            answer = requests.post(f"{base}/hooks/unsubscribe?token=try-me", data=body.encode(),
                                   headers={"Content-Type": ctype}, timeout=15)
            assert answer.status_code == 200, answer.text
            payload = answer.json()
            assert payload["sandbox"] is True and payload["status"] == "unsubscribed"
            assert [r["destination"] for r in payload["results"]] == ["justclick", "mailkit"]
        steered = requests.post(f"{base}/hooks/unsubscribe?token=try-me", timeout=15,
                                json={"email": "dan+badhash@example.com"}).json()
        assert steered["status"] == "failed" and "hash" in steered["results"][0]["message"]
        ready = requests.get(f"{base}/readyz", timeout=5).json()
        assert ready["sandbox"] is True
    finally:
        web.send_signal(signal.SIGTERM)
        web.wait(30)
    assert "SANDBOX mode" in (tmp_path / "web.log").read_text()


def test_flask_sandbox_runs_web_and_worker_and_prints_a_token(tmp_path):
    port = free_port()
    proc = spawn(f"flask sandbox --port {port}", clean_env(tmp_path), tmp_path, "sandbox")
    base = f"http://127.0.0.1:{port}"
    try:
        assert wait_for(lambda: _up(base), 60), (tmp_path / "sandbox.log").read_text()
        assert wait_for(lambda: "your token" in (tmp_path / "sandbox.log").read_text(), 10)
        log = (tmp_path / "sandbox.log").read_text()
        token = log.split("your token", 1)[1].split()[0]
        queued = requests.post(f"{base}/hooks/unsubscribe", headers={"Authorization": f"Bearer {token}"},
                               json={"email": "eve+down@example.com"}, timeout=15)
        assert queued.status_code == 202 and queued.json()["sandbox"] is True
        done = requests.post(f"{base}/hooks/justclick", headers={"Authorization": f"Bearer {token}",
                                                                "Prefer": "respond-async"},
                             json={"email": "fay@example.com"}, timeout=15)
        assert done.status_code == 202
        time.sleep(3)  # the worker (a separate process, its own simulators) delivers the async one
        again = requests.post(f"{base}/hooks/justclick", headers={"Authorization": f"Bearer {token}"},
                              json={"email": "fay@example.com"}, timeout=15).json()
        assert again["results"][0]["status"] == "unsubscribed"  # answered from the delivered row (dedup)
    finally:
        proc.send_signal(signal.SIGINT)
        assert proc.wait(30) == 0


def test_the_sandbox_is_never_on_together_with_real_credentials(make_app):
    app = make_app(SANDBOX="1")  # the fixture's env has real (fake-vendor) credentials
    settings = relay_of(app).settings
    assert settings.sandbox is False
    assert any("SANDBOX=1 cannot be on together with real credentials" in p for p in settings.problems)
    ready = app.test_client().get("/readyz")
    assert ready.status_code == 503 and ready.json["sandbox"] is False
