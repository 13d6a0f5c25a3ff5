"""The contenders side by side: throughput, latency and server CPU per request, rounds alternating."""

import json
import os
import subprocess
import sys
import time
from datetime import datetime

from bench import cpu
from bench.load import drive
from bench.procs import CONTENDERS, ROOT, peak_rss_mb, service_env, sqlite_db, start_contenders, upstream

SETTLE_SECONDS = 0.3  # after wrk stops, the requests still in flight finish before CPU is read again


def measured_round(master_pid, port, path, requests, connections):
    """One load run with the server tree's CPU read before and after; adds cpu_us per answered request."""
    before = cpu.tree_cpu_seconds(master_pid)
    result = drive(port, path, requests, connections, max_seconds=requests / 20 + 10)
    time.sleep(SETTLE_SECONDS)
    after = cpu.tree_cpu_seconds(master_pid)
    return {**result, "cpu_us": cpu.per_request_us(before, after, result["answered"])}


def rotated(names, offset):
    """The contenders in round `offset`'s order: each one leads in turn."""
    offset %= len(names)
    return names[offset:] + names[:offset]


def scenario_fast(procs, tmp, settings, split=(2, 16)):
    """All four contenders against a fast upstream, alternating order each round.

    Returns ({contender: [round results]}, peak RSS in MB of the largest unsub-relay web worker).
    """
    up = upstream(procs, 0.0)
    running = start_contenders(procs, CONTENDERS, up, sqlite_db(tmp, f"fast-{split[0]}x{split[1]}"), split)
    runs = {name: [] for name in CONTENDERS}
    names = list(CONTENDERS)
    requests, connections = settings["requests"], settings["connections"]
    for name in names:  # one short warm-up each: imports, pools, first connections
        drive(running[name][1], running[name][2], max(requests // 4, 50), connections, max_seconds=5)
    for r in range(settings["rounds"]):
        for name in rotated(names, r):
            proc, port, path = running[name]
            runs[name].append(measured_round(proc.pid, port, path, requests, connections))
    relay = running["unsub-relay"][0].pid
    memory = max(peak_rss_mb(pid) for pid in cpu.children(relay))
    procs.stop(*(proc for proc, _, _ in running.values()))
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
