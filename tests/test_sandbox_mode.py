"""SANDBOX=1: the service end to end against the built-in simulators, through gunicorn and `flask sandbox`."""

import json
import os
import signal
import socket

import pytest
import requests

from tests.conftest import relay_of
from tests.procs import free_port, procfile, spawn, stop, up as _up, wait_for

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
        assert wait_for(lambda: "Stop with Ctrl-C" in (tmp_path / "sandbox.log").read_text(), 10)
        log = (tmp_path / "sandbox.log").read_text()
        # Bound to this machine only, the banner after the web's start-up lines, no alembic chatter above it.
        assert log.index(f"Listening at: http://127.0.0.1:{port}") < log.index("running in SANDBOX mode")
        assert "alembic" not in log and "ledger schema migrated from empty to 0008" in log
        token = log.split("your token", 1)[1].split()[0]
        queued = requests.post(f"{base}/hooks/unsubscribe", headers={"Authorization": f"Bearer {token}"},
                               json={"email": "eve+down@example.com"}, timeout=15)
        assert queued.status_code == 202 and queued.json()["sandbox"] is True
        done = requests.post(f"{base}/hooks/justclick", headers={"Authorization": f"Bearer {token}",
                                                                "Prefer": "respond-async"},
                             json={"email": "fay@example.com"}, timeout=15)
        assert done.status_code == 202

        def delivered():  # by the worker (a separate process, its own simulators); answered from its row
            again = requests.post(f"{base}/hooks/justclick", headers={"Authorization": f"Bearer {token}"},
                                  json={"email": "fay@example.com"}, timeout=15).json()
            return again["results"][0]["status"] == "unsubscribed"
        assert wait_for(delivered, 30, every=0.5)
    finally:
        proc.send_signal(signal.SIGINT)  # what Ctrl-C sends (to the sandbox only: its children have a group)
        assert proc.wait(30) == 0


def test_flask_sandbox_on_a_busy_port_says_so_and_starts_nothing(tmp_path):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        proc = spawn(f"flask sandbox --port {port}", clean_env(tmp_path), tmp_path, "sandbox")
        code = proc.wait(60)
    log = (tmp_path / "sandbox.log").read_text()
    assert code == 1 and f"port {port} is in use" in log and "--port" in log, log
    assert "running in SANDBOX mode" not in log and "gunicorn" not in log.lower()  # no banner, no process


def children(pid):
    """The pids whose parent is `pid` (Linux /proc)."""
    found = []
    for entry in filter(str.isdigit, os.listdir("/proc")):
        try:
            with open(f"/proc/{entry}/stat") as f:
                stat = f.read()
        except (FileNotFoundError, ProcessLookupError):  # it ended meanwhile
            continue
        if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
            found.append(int(entry))
    return found


def alive(pid):
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except FileNotFoundError:
        return False


def test_when_the_web_process_dies_the_worker_is_stopped_too(tmp_path):
    port = free_port()
    proc = spawn(f"flask sandbox --port {port}", clean_env(tmp_path), tmp_path, "sandbox")
    try:
        assert wait_for(lambda: "Stop with Ctrl-C" in (tmp_path / "sandbox.log").read_text(), 60)
        web, worker = sorted(children(proc.pid))  # started in this order
        os.kill(web, signal.SIGKILL)  # gunicorn's master, gone without a word
        assert proc.wait(40) == 128 + signal.SIGKILL
        assert wait_for(lambda: not alive(worker), 10), "the worker outlived the web process"
        log = (tmp_path / "sandbox.log").read_text()
        assert "The web process ended by itself: stopping the other one too." in log
    finally:
        stop(proc)


def test_the_sandbox_is_never_on_together_with_real_credentials(make_app):
    app = make_app(SANDBOX="1")  # the fixture's env has real (fake-vendor) credentials
    settings = relay_of(app).settings
    assert settings.sandbox is False
    assert any("SANDBOX=1 cannot be on together with real credentials" in p for p in settings.problems)
    ready = app.test_client().get("/readyz")
    assert ready.status_code == 503 and ready.json["sandbox"] is False
