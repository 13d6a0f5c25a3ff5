"""The contenders side by side: throughput, latency and server CPU per request, rounds alternating.

The fast contest is a matrix: each upstream (plain HTTP, HTTPS with a throwaway CA) has its own set of
contenders, unsub-relay twice (on SQLite and on PostgreSQL, PostgreSQL's backends' CPU counted), and every
round runs all of them once, in an order that rotates, so the machine's drift falls on all alike.
"""

import functools
import json
import os
import subprocess
import sys
import time
from contextlib import ExitStack, nullcontext
from datetime import datetime

from bench import cpu
from bench.load import drive
from bench.procs import ROOT, peak_rss_mb, service_env, sqlite_db, start_contenders, upstream, wait_http

SETTLE_SECONDS = 0.3  # after wrk stops, the requests still in flight finish before CPU is read again
RELAY, SQLITE, POSTGRES = "unsub-relay", "unsub-relay (SQLite)", "unsub-relay (PostgreSQL)"
SCHEMES = ("plain", "https")
# Which contenders run against each upstream: bare Flask calls none, so it runs once, on the plain one.
LINEUP = {"plain": (SQLITE, POSTGRES, "naive forwarder", "pooled forwarder", "bare Flask"),
          "https": (SQLITE, POSTGRES, "naive forwarder", "pooled forwarder")}


def measured_round(master_pid, port, path, requests, connections, backends=None):
    """One load run with the server tree's CPU read before and after; adds cpu_us per answered request.

    With `backends` (bench/pgpath.Backends), PostgreSQL's CPU over the run is added to the service's:
    cpu_us is their sum, pg_cpu_us PostgreSQL's part, backends_started the connections opened meanwhile,
    backends_busy those that did any work."""
    before = cpu.tree_cpu_seconds(master_pid)
    with backends.measuring() if backends else nullcontext({}) as database:
        result = drive(port, path, requests, connections, max_seconds=requests / 20 + 10)
        time.sleep(SETTLE_SECONDS)
        after = cpu.tree_cpu_seconds(master_pid)
    pg_seconds = database.get("cpu_seconds", 0.0)
    answered = result["answered"]
    return {**result, "cpu_us": cpu.per_request_us(before, after + pg_seconds, answered),
            "pg_cpu_us": cpu.per_request_us(0.0, pg_seconds, answered),
            "backends_started": database.get("backends_started", 0),
            "backends_busy": database.get("backends_busy", 0)}


def rotated(names, offset):
    """The contenders in round `offset`'s order: each one leads in turn."""
    offset %= len(names)
    return names[offset:] + names[:offset]


def lineup(schemes, postgres):
    """[(scheme, contender)] of one round, in the order of its first round."""
    return [(scheme, name) for scheme in schemes for name in LINEUP[scheme] if postgres or name != POSTGRES]


def _start(procs, stack, tmp, scheme, names, split, certs):
    """{contender: (process, port, path, Backends or None)} against one upstream, databases made for it;
    started, not yet waited for. The PostgreSQL database is migrated by the service as it starts
    (AUTO_MIGRATE, on by default), as on a deploy."""
    from bench import pgpath

    up = upstream(procs, 0.0, certs=certs)
    tag = f"{scheme}-{split[0]}x{split[1]}"
    start = functools.partial(start_contenders, procs, up_port=up, split=split, certs=certs, wait=False)
    plain = [name for name in names if name not in (SQLITE, POSTGRES)]
    forwarders = start(plain, db_url=sqlite_db(tmp, f"fast-{tag}"))
    running = {name: (*entry, None) for name, entry in forwarders.items()}
    if SQLITE in names:
        running[SQLITE] = *start([RELAY], db_url=sqlite_db(tmp, f"relay-{tag}"))[RELAY], None
    if POSTGRES in names:
        url, database = stack.enter_context(pgpath.throwaway_database())
        backends = pgpath.Backends(database)
        stack.callback(backends.close)
        running[POSTGRES] = *start([RELAY], db_url=url)[RELAY], backends
    return running


def scenario_fast(procs, tmp, settings, split=(2, 16), schemes=("plain",), postgres=False):
    """Every contender of `lineup` against a fast upstream per scheme, alternating order each round.

    Returns ({scheme: {contender: [round results]}}, peak RSS in MB of the largest unsub-relay web worker).
    """
    from bench import tls

    entries = lineup(schemes, postgres)
    certs = tls.make_certs(os.path.join(tmp, "tls")) if "https" in schemes else None
    runs = {scheme: {name: [] for s, name in entries if s == scheme} for scheme in schemes}
    requests, connections = settings["requests"], settings["connections"]
    with ExitStack() as stack:
        running = {}
        for scheme in schemes:
            names = [name for s, name in entries if s == scheme]
            started = _start(procs, stack, tmp, scheme, names, split, certs if scheme == "https" else None)
            running.update({(scheme, name): entry for name, entry in started.items()})
        stack.callback(procs.stop, *(proc for proc, _, _, _ in running.values()))
        for _, port, _, _ in running.values():
            wait_http(port)
        warmup = settings.get("warmup", max(requests // 4, 50))
        for _, port, path, _ in running.values():  # one short warm-up each: imports, pools, connections
            drive(port, path, warmup, connections, max_seconds=5)
        for r in range(settings["rounds"]):
            for scheme, name in rotated(entries, r):
                proc, port, path, backends = running[scheme, name]
                result = measured_round(proc.pid, port, path, requests, connections, backends)
                runs[scheme][name].append(result)
        relays = [running[key][0].pid for key in running if key[1] in (SQLITE, POSTGRES)]
        memory = max(peak_rss_mb(pid) for relay in relays for pid in cpu.children(relay))
    return runs, memory


def scenario_slow(procs, tmp, requests, connections, split=(2, 16), latency=0.1):
    """unsub-relay alone against an upstream that takes 100 ms."""
    up = upstream(procs, latency)
    running = start_contenders(procs, ["unsub-relay"], up, sqlite_db(tmp, "slow"), split)
    proc, port, path = running["unsub-relay"]
    drive(port, path, connections, connections, max_seconds=5)
    result = measured_round(proc.pid, port, path, requests, connections)
    procs.stop(proc)
    return result


def fill_backlog(env, count):
    """Queue `count` unsubscribes through the ledger's own accept (bench/fill.py)."""
    fill = subprocess.run([sys.executable, "bench/fill.py", str(count)], cwd=ROOT, capture_output=True,
                          text=True, env={**os.environ, **env, "PYTHONPATH": ROOT}, check=True)
    assert json.loads(fill.stdout)["queued"] == count, fill.stdout


def scenario_backlog(procs, tmp, count, latency=0.05):
    """`count` queued unsubscribes drained by one `flask worker` against a slow upstream."""
    from sqlalchemy import create_engine, text

    up = upstream(procs, latency)
    db = sqlite_db(tmp, "backlog")
    env = service_env(up, db, 0)
    fill_backlog(env, count)
    started = time.monotonic()
    worker = procs.start([sys.executable, "-m", "flask", "--app", "app", "worker"],
                         {**env, "WORKER_CONCURRENCY": "16"}, "worker")
    engine = create_engine(db)
    while True:
        with engine.connect() as conn:
            left = conn.execute(text("select count(*) from deliveries where status = 'pending'")).scalar()
        if not left or time.monotonic() - started > 120:
            break
        time.sleep(0.05)
    elapsed = time.monotonic() - started
    with engine.connect() as conn:
        done, first, last = conn.execute(text("select count(*), min(completed_at), max(completed_at) "
                                              "from deliveries where status = 'done'")).one()
    engine.dispose()
    rss = peak_rss_mb(worker.pid)
    procs.stop(worker)
    span = (_when(last) - _when(first)).total_seconds() if done > 1 else elapsed
    return {"count": count, "done": done, "seconds": elapsed, "rate": done / elapsed,
            "drain_rate": (done - 1) / span if span > 0 else 0.0, "rss_mb": rss}


def _when(value):
    return value if isinstance(value, datetime) else datetime.fromisoformat(str(value))
