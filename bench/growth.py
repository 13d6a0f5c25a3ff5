"""Ledger costs as it grows (`python bench/run.py --growth`): 10,000 against 1,000,000 past deliveries.

For SQLite and PostgreSQL: a fresh migrated database, filled in bulk (bench/bulk.py), then each ledger
operation timed through the app's own ledger, in-process: accept + record of one webhook, a worker's
claim, the dedup look-up, `flask deliveries list --target`, and purge. Every statement an operation
runs is caught as it goes to the driver and explained (EXPLAIN QUERY PLAN / EXPLAIN) at the largest size.
"""

import re
import statistics
import sys
import time
import uuid

from sqlalchemy import event

from bench import bulk, cpu
from bench.procs import LOGIN, SECRET, TOKEN, pg_database

REPEATS = {"accept + record": 200, "claim (32 rows)": 20, "dedup look-up": 300, "list --target": 50,
           "purge": 9}
LIMIT_RATIO = 1.3
BUDGET_SECONDS = 1.5  # per operation: a full scan of a million rows must not hold the whole run up


def ledger_calls(app, size):
    """{operation: call(i)}: THE adapter to the store API (store/ledger.py today).

    Re-point these calls after a refactor of the store; nothing else in the growth run names its API.
    """
    from schemas.shapes import Delivery, Outcome
    from store import utcnow

    store = app.extensions["unsub_relay"].service.store
    ledger, queries = store.ledger, store.queries
    run = uuid.uuid4().hex[:8]

    def plan(target):
        return Delivery("justclick", target, {"lead_email": target, "rass_name": "Main"}, "Main")

    def accept_record(i):
        owner = f"{run}{i}"
        _, placed = ledger.accept([plan(f"new-{run}-{i}@example.com")], lease_owner=owner)
        done = Outcome("justclick", "unsubscribed", "0", "OK", started_at=utcnow(), duration_ms=1)
        ledger.record([(placed[0], done)], owner, "web")

    def dedup(i):  # the look-up accept makes for every plan, on a recent address (a hit), read only
        ledger.would_add([plan(bulk.existing_target(size - 1 - i % 100))], 600)

    return {
        "accept + record": accept_record,
        "claim (32 rows)": lambda i: ledger.claim(f"{run}w{i}", 32, ["justclick", "mailkit"]),
        "dedup look-up": dedup,
        # Case-insensitive, as an operator types it.
        "list --target": lambda i: queries.find(target=bulk.existing_target(size // 2 + i).upper(), limit=100),
        # Ten slices of the 90-100-day-old rows: each call removes about a tenth of them.
        "purge": lambda i: queries.purge((99 - i) * bulk.DAY),
    }


class Statements:
    """The distinct statements an engine sends to its driver (not inserts or transaction control)."""

    SKIP = ("INSERT", "BEGIN", "COMMIT", "ROLLBACK", "SAVEPOINT", "RELEASE", "PRAGMA", "SET", "SHOW")

    def __init__(self, engine):
        from store import hot

        self.engine, self.seen, self.operation = engine, {}, None
        event.listen(engine, "before_cursor_execute", self._caught)
        # The hot path's statements go to the driver without Core's events (store/hot.py).
        self.unwatch = hot.watch(lambda on, statement, values, many: on is engine and self._caught(
            None, None, statement, values, None, many))

    def _caught(self, conn, cursor, statement, parameters, context, executemany):
        if self.operation and not executemany and not statement.lstrip().upper().startswith(self.SKIP):
            self.seen.setdefault(shape(statement), (self.operation, statement, parameters))

    def explain(self):
        """[(operation, statement, plan text, full scan?)] for every statement caught."""
        sqlite = self.engine.dialect.name == "sqlite"
        self.operation, plans = None, []
        self.unwatch()
        with self.engine.connect() as conn:
            for shown, (operation, statement, parameters) in self.seen.items():
                rows = conn.exec_driver_sql(("EXPLAIN QUERY PLAN " if sqlite else "EXPLAIN ") + statement,
                                            parameters).all()
                lines = [row[3] if sqlite else row[0] for row in rows]
                plans.append((operation, shown, lines, full_scan(lines)))
            conn.rollback()
        return plans


def shape(statement):
    """A statement on one line with its expanded IN lists collapsed: one entry per kind of statement."""
    flat = " ".join(statement.split())
    flat = re.sub(r"(\?, )+\?", "?, ...", flat)
    return re.sub(r"(%\(\w+\)s(::[\w ]+?)?, )+%\(\w+\)s(::[\w ]+?)?\)", "..., ...)", flat)


def full_scan(plan_lines):
    """'table' when a plan reads a whole table (SQLite `SCAN t`, PostgreSQL `Seq Scan`), 'index' when it
    reads a whole index (SQLite `SCAN t USING ... INDEX`, PostgreSQL an index scan with no Index Cond)."""
    found = ""
    for n, line in enumerate(plan_lines):
        words = line.strip().lstrip("->").split()
        if "Seq Scan" in line or (words[:1] == ["SCAN"] and "INDEX" not in words and "CONSTANT" not in line):
            return "table"
        following = plan_lines[n + 1].strip() if n + 1 < len(plan_lines) else ""
        if words[:1] == ["SCAN"] and "INDEX" in words or (
                re.search(r"Index (Only )?Scan", line) and not following.startswith("Index Cond")):
            found = "index"
    return found


def time_operations(app, size, catcher=None):
    """{operation: [seconds per call]}; the first call of each is a warm-up (connection, statement cache)."""
    timings = {}
    for operation, call in ledger_calls(app, size).items():
        if operation != "purge":  # purge's warm-up would take a slice away
            call(-1)
        if catcher:
            catcher.operation = operation
        spent = []
        for i in range(REPEATS[operation]):
            started = time.perf_counter()
            call(i)
            spent.append(time.perf_counter() - started)
            if sum(spent) > BUDGET_SECONDS:
                break
        timings[operation] = spent
        if catcher:
            catcher.operation = None
    return timings


def measure(kind, size, tmp, explain):
    """({operation: [seconds]}, fill seconds, plans or None) for one database kind at one size."""
    from app import create_app
    from store import utcnow

    if kind == "sqlite":
        url, drop = f"sqlite:///{tmp}/growth-{size}.sqlite3", (lambda: None)
    else:
        url, drop = pg_database()
    app = create_app({"JUSTCLICK_LOGIN": LOGIN, "JUSTCLICK_SECRET": SECRET, "JUSTCLICK_GROUP": "Main",
                      "WEBHOOK_TOKENS": TOKEN, "DATABASE_URL": url,
                      "JUSTCLICK_MAX_RATE": "0", "MAILKIT_MAX_RATE": "0"})
    store = app.extensions["unsub_relay"].service.store  # migrated by create_app (AUTO_MIGRATE)
    try:
        store.engine.dispose()
        filled = bulk.fill(store.engine, size, utcnow())
        catcher = Statements(store.engine) if explain else None
        timings = time_operations(app, size, catcher)
        plans = catcher.explain() if catcher else None
    finally:
        store.close()
        drop()
    return timings, filled, plans


def section(tmp, sizes, procs=None):
    """Markdown lines: per-operation medians at both sizes and their ratio, then the query plans; with
    `procs`, the memory of the service's processes on the largest SQLite ledger."""
    small, large = sizes
    results, plans, fills = {}, {}, []
    for kind in ("sqlite", "postgresql"):
        for size in sizes:
            timings, filled, found = measure(kind, size, tmp, explain=size == large)
            results[kind, size] = {op: (statistics.median(spent) * 1000, min(spent) * 1000)
                                   for op, spent in timings.items()}
            fills.append(f"{kind} {size:,}: {filled:.1f} s")
            plans[kind] = found or plans.get(kind)
    memory = memory_at(procs, f"sqlite:///{tmp}/growth-{large}.sqlite3") if procs else None
    return render(results, plans, sizes, fills) + memory_lines(memory, large)


def memory_at(procs, db_url, webhooks=1000):
    """Peak RSS in MB of (the largest web worker, `flask worker`) serving a filled ledger: the web under the
    Procfile's line takes `webhooks` new addresses and lists one address; the worker drains the due rows."""
    from bench.load import drive
    from bench.procs import peak_rss_mb, service_env, start_contenders, upstream

    up = upstream(procs, 0.0)
    proc, port, path = start_contenders(procs, ["unsub-relay"], up, db_url)["unsub-relay"]
    drive(port, path, webhooks, 32, max_seconds=webhooks / 50 + 10)
    web = max(peak_rss_mb(pid) for pid in cpu.children(proc.pid))
    worker = procs.start([sys.executable, "-m", "flask", "--app", "app", "worker"],
                         {**service_env(up, db_url, 0), "WORKER_CONCURRENCY": "16"}, "worker-growth")
    time.sleep(6)  # most of the drain of the fill's due rows at the fake upstream
    rss = peak_rss_mb(worker.pid)
    procs.stop(proc, worker)
    return web, rss


def memory_lines(memory, size):
    if memory is None:
        return []
    return [f"Peak memory on the {size:,}-row SQLite ledger: largest web worker {memory[0]:.0f} MB (after "
            f"1,000 webhooks), `flask worker` {memory[1]:.0f} MB (draining the due rows); "
            "target under 100 MB.",
            ""]


def render(results, plans, sizes, fills):
    small, large = sizes
    lines = [f"## Ledger growth: {small:,} against {large:,} existing deliveries", "",
             f"ms per operation: median (fastest call); ratio = {large:,} / {small:,} of the medians (of the "
             f"fastest calls: on a busy machine the steadier one); target at most {LIMIT_RATIO}x. "
             f"Bulk fill took {'; '.join(fills)}.", "",
             f"| operation | SQLite {small:,} | SQLite {large:,} | ratio | PostgreSQL {small:,} "
             f"| PostgreSQL {large:,} | ratio |", "|---|---:|---:|---:|---:|---:|---:|"]
    for operation in REPEATS:
        cells = []
        for kind in ("sqlite", "postgresql"):
            (before, quickest_before), (after, quickest_after) = (results[kind, small][operation],
                                                                   results[kind, large][operation])
            fastest = quickest_after / quickest_before
            flag = " **over**" if min(after / before, fastest) > LIMIT_RATIO else ""
            cells += [f"{before:.2f} ({quickest_before:.2f})", f"{after:.2f} ({quickest_after:.2f})",
                      f"{after / before:.2f}x ({fastest:.2f}x){flag}"]
        lines.append(f"| {operation} | " + " | ".join(cells) + " |")
    for kind, found in plans.items():
        lines += ["", f"### Query plans, {kind}, {large:,} rows", ""]
        for operation, statement, plan_lines, scans in found:
            scan = {"table": " - **FULL TABLE SCAN**", "index": " - **whole index read**"}.get(scans, "")
            lines += [f"- {operation}{scan}: `{statement[:400]}`", "", "  ```",
                      *[f"  {line[:160]}" for line in plan_lines], "  ```"]
    return lines + [""]
