"""A sandbox (SANDBOX=1: the built-in simulators instead of the vendors) started by mistake against the
production ledger: its worker must leave live rows alone, and the live worker delivers them to the (fake)
vendor; the sandbox's own rows never reach a real vendor."""

import pytest
import requests

from tests.e2e.conftest import deployed
from tests.e2e.deploy import justclick_sent, tag
from tests.helpers import TOKEN
from tests.procs import free_port, wait_for

pytestmark = pytest.mark.slow
SANDBOXED = {"SANDBOX": "1", "JUSTCLICK_LOGIN": None, "JUSTCLICK_SECRET": None, "JUSTCLICK_API_URL": None,
             "MAILKIT_CLIENT_ID": None, "MAILKIT_CLIENT_MD5": None, "MAILKIT_API_URL": None}
SETTLE_SECONDS = 30.0
ASYNC = {"Prefer": "respond-async"}  # accepted and queued: the rows are the worker's to send


@pytest.fixture(scope="module")
def site(pg_url, tmp_path_factory, justclick, mailkit):
    with deployed("sandbox", pg_url, tmp_path_factory.mktemp("e2e-sandbox"), justclick, mailkit, workers=0) as d:
        yield d


def test_sandbox_worker_leaves_live_rows_to_the_live_worker(site, justclick):
    t = tag()
    live = [f"Live.{i}.{t}@Example.com" for i in range(5)]
    for email in live:
        justclick.subscribe(email, "Main")
    answers = [site.hook({"email": email}, headers=ASYNC) for email in live]
    assert {(a.status_code, a.json()["status"]) for a in answers} == {(202, "queued")}

    port = free_port()
    site.start("sandbox-web", "web", PORT=str(port), PUBLIC_URL=f"http://127.0.0.1:{port}", **SANDBOXED)
    site.start("sandbox-worker", "worker", **SANDBOXED)
    sandbox_base = f"http://127.0.0.1:{port}"
    assert wait_for(lambda: up(sandbox_base), 60), site.logs()["sandbox-web"]
    tried = f"Tryout.{t}@Example.com"
    trial = requests.post(f"{sandbox_base}/hooks/justclick", json={"email": tried}, timeout=30,
                          headers={"Authorization": f"Bearer {TOKEN}", **ASYNC})
    assert trial.status_code == 202 and trial.json().get("sandbox") is True, trial.text
    # The sandbox worker has had its turn once it delivered the sandbox's own row (queued after the live ones).
    assert wait_for(lambda: site.settled(tried), SETTLE_SECONDS), "the sandbox worker delivered nothing"
    assert {(r["status"], r["attempts"]) for r in site.rows(*live)} == {("pending", 0)}
    assert justclick_sent(justclick) == {}
    # The sandbox says where it stands: unready, naming the live rows it leaves alone.
    ready = requests.get(f"{sandbox_base}/readyz", timeout=10)
    assert ready.status_code == 503 and ready.json()["store"]["other_mode_pending"] == len(live), ready.text
    assert any("sandbox process is on a ledger holding" in p for p in ready.json()["problems"]), ready.text

    site.start("worker", "worker")
    assert wait_for(lambda: site.settled(*live), SETTLE_SECONDS), "the live worker did not deliver them"
    assert justclick_sent(justclick) == {email: ["Main"] for email in live}  # and never the sandbox's row
    assert {(r["status"], r["outcome"]) for r in site.rows(*live)} == {("done", "unsubscribed")}
    assert {a["sender"] for r in site.rows(*live) for a in site.attempts(r["id"])} == {"worker"}


def up(base):
    try:
        return requests.get(f"{base}/healthz", timeout=2).status_code == 200
    except requests.RequestException:
        return False
