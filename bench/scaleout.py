"""Workers that scale out (`python bench/run.py --scaleout`): one backlog on PostgreSQL, 1, 2, then 4 workers.

A backlog (20,000 by default) is queued through the ledger's own accept (bench/fill.py), then drained
against an upstream that takes 50 ms, by 1, then 2, then 4 `flask worker` processes on the one
database. Each phase's rate is taken over a fixed window once its first delivery arrived, so the run
stays bounded; the last phase then drains the rest. The fake upstream tallies every address it is sent:
at the end each of the backlog's addresses must have arrived exactly once, and no row is left pending.
"""

import http.client
import json
import sys
import time

from bench import cpu
from bench.contest import fill_backlog
from bench.procs import peak_rss_mb, pg_database, service_env, upstream

PHASES = (1, 2, 4)
LATENCY = 0.05
CONCURRENCY = 16
DRAIN_LIMIT_SECONDS = 60  # the last phase's drain: the whole bench must stay under five minutes


def upstream_stats(port):
    """{"received", "distinct", "twice"} from the counting fake upstream."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        conn.request("GET", "/stats")
        return json.loads(conn.getresponse().read())
    finally:
        conn.close()


def wait_for(condition, limit):
    """Poll `condition` every 50 ms until it holds or `limit` seconds passed; returns whether it held."""
    deadline = time.monotonic() + limit
    while not condition():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.05)
    return True


def phase(procs, env, up_port, count, window, drain, backlog):
    """Run `count` workers: the rate over `window` seconds after their first delivery; with `drain`,
    keep them on until the upstream has received the whole backlog."""
    start = upstream_stats(up_port)["received"]
    workers = [procs.start([sys.executable, "-m", "flask", "--app", "app", "worker"],
                           {**env, "WORKER_CONCURRENCY": str(CONCURRENCY)}, f"worker-{count}-{n}")
               for n in range(count)]
    wait_for(lambda: upstream_stats(up_port)["received"] > start, 30)
    cpu_before = sum(cpu.tree_cpu_seconds(w.pid) for w in workers)
    t0, c0 = time.monotonic(), upstream_stats(up_port)["received"]
    time.sleep(window)
    t1, c1 = time.monotonic(), upstream_stats(up_port)["received"]
    cpu_after = sum(cpu.tree_cpu_seconds(w.pid) for w in workers)
    drained = drain and wait_for(lambda: upstream_stats(up_port)["received"] >= backlog, DRAIN_LIMIT_SECONDS)
    if drained:
        time.sleep(0.5)  # the last results are recorded after their answers arrive
    rss = max(peak_rss_mb(w.pid) for w in workers)
    procs.stop(*workers)
    return {"workers": count, "rate": (c1 - c0) / (t1 - t0), "delivered": c1 - c0,
            "cpu_us": cpu.per_request_us(cpu_before, cpu_after, c1 - c0), "rss_mb": rss, "drained": drained}


def ledger_counts(url):
    """{status: rows} in the database."""
    from sqlalchemy import create_engine, text

    from settings import database_url

    engine = create_engine(database_url({"DATABASE_URL": url}, "instance"))
    try:
        with engine.connect() as conn:
            return dict(conn.execute(text("SELECT status, count(*) FROM deliveries GROUP BY status")).all())
    finally:
        engine.dispose()


def _migrate(url):
    """`flask db upgrade`, in this process (a subprocess would import the app again)."""
    from settings import database_url
    from store.db import make_engine, upgrade

    engine = make_engine(database_url({"DATABASE_URL": url}, "instance"))
    try:
        upgrade(engine)
    finally:
        engine.dispose()


def run(procs, backlog, window):
    """([phase results], upstream stats, ledger counts, fill seconds)."""
    url, drop = pg_database()
    try:
        _migrate(url)
        up = upstream(procs, LATENCY, counting=True)
        env = service_env(up, url, 0)
        started = time.monotonic()
        fill_backlog(env, backlog)
        filled = time.monotonic() - started
        phases = [phase(procs, env, up, count, window, count == PHASES[-1], backlog) for count in PHASES]
        return phases, upstream_stats(up), ledger_counts(url), filled
    finally:
        drop()


def section(procs, backlog, window):
    """Markdown lines: the rate of each phase, and whether every address arrived exactly once."""
    phases, sent, ledger, filled = run(procs, backlog, window)
    single = phases[0]["rate"] or 1.0
    lines = [f"## Scale-out: a backlog of {backlog:,} on PostgreSQL, upstream at {LATENCY * 1000:.0f} ms", "",
             f"`flask worker` processes (WORKER_CONCURRENCY={CONCURRENCY}) one after another on the same "
             f"backlog; each rate over {window:g} s after its first delivery, the last phase drains the "
             "rest. "
             f"Queued through the ledger in {filled:.1f} s.", "",
             "| workers | deliveries/s | vs 1 worker | worker CPU µs/delivery | peak RSS MB (largest) |",
             "|---:|---:|---:|---:|---:|"]
    for result in phases:
        lines.append(f"| {result['workers']} | {result['rate']:.0f} | {result['rate'] / single:.2f}x | "
                     f"{result['cpu_us']:.0f} | {result['rss_mb']:.0f} |")
    left = {status: rows for status, rows in ledger.items() if status != "done"}
    verdict = ("OK" if sent["received"] == sent["distinct"] == backlog and not sent["twice"] and not left else
               "**NOT OK**" if phases[-1]["drained"] or sent["twice"] else
               f"**not drained within its {DRAIN_LIMIT_SECONDS} s bound** (nothing sent twice so far)")
    lines += ["", f"At the upstream: {sent['received']:,} requests for {sent['distinct']:,} addresses, "
              f"{sent['twice']} sent twice. Ledger: {ledger.get('done', 0):,} done, left behind: "
              f"{left or 'none'}. {verdict}", ""]
    return lines

