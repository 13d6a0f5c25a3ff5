"""Prometheus metrics: /metrics behind METRICS_TOKEN, counters recorded by the service, merged across real
gunicorn workers (multiprocess mode, the directory wiped at start, killed workers replaced), the worker's port."""

import os
import signal
from datetime import timezone

import pytest
import requests
from prometheus_client import REGISTRY
from prometheus_client.parser import text_string_to_metric_families

import metrics
from metrics.hooks import prepare_directory
from settings import load_settings
from tests.conftest import make_worker, store_of
from tests.helpers import TOKEN, post
from tests.procs import free_port, spawn, up as _up, wait_for

METRICS_TOKEN = "metrics-token-0123456789"
BEARER = {"Authorization": f"Bearer {METRICS_TOKEN}"}


def samples(text):
    """{(sample name, sorted labels): value} of a Prometheus text page."""
    return {(s.name, tuple(sorted(s.labels.items()))): s.value
            for family in text_string_to_metric_families(text) for s in family.samples}


def value(name, **labels):
    return REGISTRY.get_sample_value(name, labels) or 0.0


def test_metrics_are_off_without_a_token(client):
    assert client.get("/metrics").status_code == 404


@pytest.mark.parametrize("headers, status", [
    ({}, 401),
    ({"Authorization": "Bearer wrong-token"}, 401),
    ({"Authorization": f"Basic {METRICS_TOKEN}"}, 401),
    ({"Authorization": f"Bearer {METRICS_TOKEN}x"}, 401),
    (BEARER, 200),
    ({"Authorization": f"bearer  {METRICS_TOKEN} "}, 200),
], ids=["none", "wrong", "basic-scheme", "longer", "right", "scheme-any-case"])
def test_metrics_need_the_bearer_token(make_app, headers, status):
    response = make_app(METRICS_TOKEN=METRICS_TOKEN).test_client().get("/metrics", headers=headers)
    assert response.status_code == status
    assert (b"unsub_relay_webhooks_received_total" in response.data) == (status == 200)
    assert METRICS_TOKEN.encode() not in response.data


def test_the_service_records_webhooks_deliveries_calls_claims_and_backlog(make_app, justclick):
    app = make_app(METRICS_TOKEN=METRICS_TOKEN)
    client = app.test_client()
    webhooks = ("unsub_relay_webhooks_received_total", {"route": "justclick", "sender": "generic", "status": "200"})
    before = {"hook": value(webhooks[0], **webhooks[1]), "bad": value(webhooks[0], route="justclick",
              sender="unparsed", status="401"), "done": value("unsub_relay_deliveries_total",
              destination="justclick", outcome="unsubscribed"), "calls": value(
              "unsub_relay_upstream_call_seconds_count", destination="justclick"),
              "claims": value("unsub_relay_worker_claims_total", destination="justclick")}
    justclick.subscribe("a@example.com", "Main")
    justclick.subscribe("b@example.com", "Main")
    assert post(client, {"email": "a@example.com"}, route="justclick").status_code == 200
    assert post(client, {"email": "a@example.com"}, route="justclick", token="bad").status_code == 401
    assert post(client, {"email": "b@example.com"}, route="justclick",
                headers={"Prefer": "respond-async"}).status_code == 202
    page = samples(client.get("/metrics", headers=BEARER).get_data(as_text=True))
    assert page[("unsub_relay_backlog_pending", ())] == 1
    assert page[("unsub_relay_oldest_pending_age_seconds", ())] >= 0
    assert make_worker(app).drain() == 1
    assert value(webhooks[0], **webhooks[1]) - before["hook"] == 1
    assert value(webhooks[0], route="justclick", sender="unparsed", status="401") - before["bad"] == 1
    assert value("unsub_relay_deliveries_total", destination="justclick", outcome="unsubscribed") \
        - before["done"] == 2  # one answered by the web, one sent by the worker
    assert value("unsub_relay_upstream_call_seconds_count", destination="justclick") - before["calls"] == 2
    assert value("unsub_relay_worker_claims_total", destination="justclick") - before["claims"] == 1
    assert value("unsub_relay_worker_last_seen_timestamp_seconds") > 0


@pytest.mark.parametrize("how, channel, auth", [("webhook", "webhook", "token"), ("cli", "cli", "operator")],
                         ids=["webhook", "cli"])
def test_accepted_opt_outs_are_counted_by_where_they_came_from(make_app, justclick, how, channel, auth):
    app = make_app(METRICS_TOKEN=METRICS_TOKEN)
    labels = {"destination": "justclick", "channel": channel, "auth": auth}
    before = value("unsub_relay_opt_outs_accepted_total", **labels)
    for email in ("d@example.com", "d@example.com", "e@example.com"):  # the repeat is no new delivery
        if how == "webhook":
            post(app.test_client(), {"email": email}, route="justclick")
        else:
            app.test_cli_runner().invoke(args=["unsubscribe", email, "--to", "justclick"])
    assert value("unsub_relay_opt_outs_accepted_total", **labels) - before == 2


def test_a_web_scrape_tells_when_a_worker_last_sent(make_app, justclick):
    """The web process sends nothing as a worker, yet its /metrics reports the workers' last claim, read from
    the ledger: a "worker silent" rule holds whichever process is scraped."""
    from delivery.telemetry import WORKER_LAST_SEEN
    app = make_app(METRICS_TOKEN=METRICS_TOKEN)
    client = app.test_client()
    justclick.subscribe("c@example.com", "Main")
    post(client, {"email": "c@example.com"}, route="justclick", headers={"Prefer": "respond-async"})
    worker = make_worker(app)
    assert worker.drain() == 1
    worker.watch.claimed()  # as its loop does after a claim, then the heartbeat row it writes every 10 s
    worker.watch.beat()
    WORKER_LAST_SEEN.set(0)  # as in a web process, where no worker ever ran
    page = samples(client.get("/metrics", headers=BEARER).get_data(as_text=True))
    seen = store_of(app).alerts.worker_seen()["last_claim_at"]
    assert page[("unsub_relay_worker_last_seen_timestamp_seconds", ())] == pytest.approx(
        seen.replace(tzinfo=timezone.utc).timestamp())


@pytest.mark.parametrize("environ, expect", [
    ({}, None),
    ({"METRICS_TOKEN": "  "}, None),
    ({"METRICS_TOKEN": "t"}, "fresh"),
    ({"METRICS_TOKEN": "t", "PROMETHEUS_MULTIPROC_DIR": "{given}"}, "given"),
], ids=["off", "blank-token", "fresh-directory", "given-directory-wiped"])
def test_prepare_directory(tmp_path, environ, expect):
    given = tmp_path / "prom"
    given.mkdir()
    (given / "counter_1.db").write_bytes(b"stale")
    environ = {k: v.format(given=given) for k, v in environ.items()}
    path = prepare_directory(environ)
    if expect is None:
        assert path is None and "PROMETHEUS_MULTIPROC_DIR" not in environ
        return
    assert environ["PROMETHEUS_MULTIPROC_DIR"] == path and os.listdir(path) == []
    assert (path == str(given)) == (expect == "given")
    if expect == "fresh":
        os.rmdir(path)


def test_the_worker_serves_the_same_metrics_on_its_port():
    port = free_port()
    server, thread = metrics.serve_worker(load_settings({"METRICS_PORT": str(port)}))
    try:
        page = requests.get(f"http://127.0.0.1:{port}/metrics", timeout=5).text
        assert "unsub_relay_worker_claims_total" in page and "unsub_relay_alerts_sent_total" in page
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)
    assert metrics.serve_worker(load_settings({})) is None


def children(pid):
    with open(f"/proc/{pid}/task/{pid}/children") as f:
        return {int(child) for child in f.read().split()}


def send(base, justclick, emails, route="justclick", **options):
    statuses = []
    for email in emails:
        justclick.subscribe(email, "Main")
        statuses.append(requests.post(f"{base}/hooks/{route}", json={"email": email},
                                      params={"token": options.get("token", TOKEN)},
                                      headers=options.get("headers", {}), timeout=10).status_code)
    return statuses


@pytest.mark.slow
def test_two_gunicorn_workers_are_scraped_as_one(app, env, tmp_path, justclick):
    """Traffic through the Procfile's gunicorn with two workers (both killed and replaced half-way): every
    counter is exactly what was sent; a stale file in the directory was wiped at start."""
    prom, port = tmp_path / "prom", free_port()
    prom.mkdir()
    (prom / "counter_4242.db").write_bytes(b"not a metrics file")  # a crash here would mean no wipe
    conf = tmp_path / "gunicorn_metrics.conf.py"  # gunicorn.conf.py plus the two hooks the lead adds
    conf.write_text('exec(open("gunicorn.conf.py").read())\nfrom metrics.hooks import child_exit, on_starting\n')
    web = spawn(f"gunicorn app:app -c {conf}", {**env, "PORT": str(port), "WEB_CONCURRENCY": "2",
                "GUNICORN_THREADS": "4", "METRICS_TOKEN": METRICS_TOKEN, "PROMETHEUS_MULTIPROC_DIR": str(prom)},
                tmp_path, "web")
    base = f"http://127.0.0.1:{port}"
    try:
        assert wait_for(lambda: _up(base) and len(children(web.pid)) == 2), (tmp_path / "web.log").read_text()
        first = children(web.pid)
        assert send(base, justclick, [f"m{i}@example.com" for i in range(5)]) == [200] * 5
        assert send(base, justclick, ["x@example.com"] * 3, token="wrong") == [401] * 3
        for pid in first:
            os.kill(pid, signal.SIGKILL)
        assert wait_for(lambda: len(children(web.pid) - first) == 2 and _up(base))
        assert send(base, justclick, [f"n{i}@example.com" for i in range(4)]) == [200] * 4
        assert send(base, justclick, ["not-an-address"] * 2) == [422] * 2
        assert send(base, justclick, ["q1@example.com", "q2@example.com"], route="mailkit",
                    headers={"Prefer": "respond-async"}) == [202] * 2
        assert requests.get(f"{base}/metrics", timeout=5).status_code == 401
        page = samples(requests.get(f"{base}/metrics", headers=BEARER, timeout=5).text)
    finally:
        web.send_signal(signal.SIGTERM)
        web.wait(30)
    hooks = "unsub_relay_webhooks_received_total"
    assert {labels: v for (name, labels), v in page.items() if name == hooks} == {
        (("route", "justclick"), ("sender", "generic"), ("status", "200")): 9,
        (("route", "justclick"), ("sender", "unparsed"), ("status", "401")): 3,
        (("route", "justclick"), ("sender", "generic"), ("status", "422")): 2,
        (("route", "mailkit"), ("sender", "generic"), ("status", "202")): 2}
    assert {labels: v for (name, labels), v in page.items() if name == "unsub_relay_deliveries_total"} == {
        (("destination", "justclick"), ("outcome", "unsubscribed")): 9,
        (("destination", "mailkit"), ("outcome", "queued")): 2}
    assert page[("unsub_relay_upstream_call_seconds_count", (("destination", "justclick"),))] == 9
    assert page[("unsub_relay_backlog_pending", ())] == 2
