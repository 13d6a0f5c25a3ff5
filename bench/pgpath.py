"""The PostgreSQL path: PostgreSQL's own CPU beside the service's, and what one webhook asks of it.

CPU: a webhook on PostgreSQL costs CPU in two places, the service and the PostgreSQL backends serving its
connections. `Backends` reads the backends' user+system time from /proc/<pid>/stat (each backend is a
child of the postmaster; pg_stat_activity says which serve the bench's database), sampled every 0.1 s
during a run so a backend the pool closes mid-run still counts up to its last sample. The background
processes (WAL writer, checkpointer) serve every database of the server, other clients' too, and are
not counted.

Round trips (`python bench/run.py --roundtrips`): the service from the Procfile on a throwaway database,
reached through a wire tap (bench/pgwire.py), so every statement, commit and new connection is seen as
the driver sends it; one webhook's statements are listed in order.
"""

import http.client
import threading
import time
import uuid
from contextlib import contextmanager

from bench import cpu, pgwire
from bench import procs as bench_procs
from bench.procs import TOKEN, pg_database, start_contenders, upstream

SAMPLE_SECONDS = 0.1


def database_name(url):
    return url.rsplit("/", 1)[1].split("?", 1)[0]


@contextmanager
def throwaway_database():
    """(url, name) of a new empty database on BENCH_DATABASE_URL's server, dropped afterwards. The service
    migrates it as it starts (AUTO_MIGRATE, on by default)."""
    url, drop = pg_database()
    try:
        yield url, database_name(url)
    finally:
        drop()


def own_cpu_seconds(pid):
    """A process's own user+system seconds (0 when it is gone)."""
    text = cpu._read(f"/proc/{pid}/stat")
    return sum(cpu.stat_times(text)[:2]) / cpu.TICKS if text else 0.0


class Backends:
    """CPU of the PostgreSQL backends serving one database, read over runs (see the module's doc)."""

    def __init__(self, database):
        import psycopg

        self.database = database
        self.admin = psycopg.connect(bench_procs.PG_ADMIN, autocommit=True, connect_timeout=3)

    def close(self):
        self.admin.close()

    def pids(self):
        rows = self.admin.execute("SELECT pid FROM pg_stat_activity WHERE datname = %s", (self.database,))
        return [pid for (pid,) in rows]

    def _sample(self, seen):
        for pid in self.pids():
            spent = own_cpu_seconds(pid)
            seen[pid] = max(seen.get(pid, 0.0), spent)

    @contextmanager
    def measuring(self):
        """Yields a dict that holds, after the block, cpu_seconds, backends_started (connections the
        service opened meanwhile: pool churn) and backends_busy (those that did any work). pg_stat_database's
        counters are not used: a backend may hold them back for up to ten seconds before reporting."""
        before, seen, stop = {}, {}, threading.Event()
        self._sample(before)

        def sampler():
            while not stop.wait(SAMPLE_SECONDS):
                self._sample(seen)

        thread = threading.Thread(target=sampler, daemon=True)
        thread.start()
        figures = {}
        try:
            yield figures
        finally:
            stop.set()
            thread.join()
            self._sample(seen)
            figures["cpu_seconds"] = sum(spent - before.get(pid, 0.0) for pid, spent in seen.items())
            figures["backends_started"] = len(set(seen) - set(before))
            figures["backends_busy"] = sum(spent > before.get(pid, 0.0) for pid, spent in seen.items())


# --- round trips ---------------------------------------------------------------------------------

def post_one(port, address):
    """One webhook, on a connection of its own; the answer's status."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        conn.request("POST", f"/hooks/justclick?token={TOKEN}", f"email={address}",
                     {"Content-Type": "application/x-www-form-urlencoded"})
        response = conn.getresponse()
        response.read()
        return response.status
    finally:
        conn.close()


def quiet(tap, seconds=0.3, limit=3.0):
    """Until the tap has seen nothing for `seconds` (work after the answer is included), at most `limit`."""
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline:
        last = tap.events[-1][0] if tap.events else 0.0
        if time.monotonic() - last >= seconds:
            return
        time.sleep(0.05)


def shown(text, width=140):
    text = " ".join(text.split())
    return text if len(text) <= width else text[:width - 3] + "..."


def one_webhook(tap, port):
    """[(connection, kind, text)] of one webhook sent alone, in the order the driver sent them."""
    start = tap.mark()
    status = post_one(port, f"one-{uuid.uuid4().hex[:8]}%40example.com")
    quiet(tap)
    return status, [(number, kind, text) for _, number, kind, text in tap.events[start:]]


def driven(tap, port, path, webhooks, connections):
    """(tap summary per webhook, executions per webhook by statement, load result) for `webhooks` driven
    over `connections` keep-alive connections."""
    from bench import load

    start = tap.mark()
    # The Python load generator, not wrk: each client waits for every answer, so exactly the webhooks
    # counted were sent (wrk stops with requests in flight, which the tap would see and not the count).
    result = load.run("127.0.0.1", port, path, connections, webhooks / 10 + 30, limit=webhooks)
    quiet(tap)
    sent = max(result["requests"], 1)
    return pgwire.summary(tap.events[start:], sent), pgwire.by_statement(tap.events[start:], sent), result


def section(procs, webhooks=200, concurrencies=(1, 32), split=(2, 16)):
    """Markdown lines: one webhook's statements in order, and round trips per webhook under load."""
    with throwaway_database() as (url, name):
        host, port = url.split("@", 1)[1].split("/", 1)[0].split(":")
        with pgwire.WireTap(host, int(port)) as tap:
            tapped = f"{url.split('@', 1)[0]}@127.0.0.1:{tap.port}/{name}?sslmode=disable&gssencmode=disable"
            up = upstream(procs, 0.0)
            running = start_contenders(procs, ["unsub-relay"], up, tapped, split)
            proc, web_port, path = running["unsub-relay"]
            try:
                for i in range(20):  # warm-up: pools filled, statements prepared by the driver
                    post_one(web_port, f"warm-{i}-{uuid.uuid4().hex[:6]}%40example.com")
                status, alone = one_webhook(tap, web_port)
                loads = {c: driven(tap, web_port, path, webhooks, c) for c in concurrencies}
            finally:
                procs.stop(proc)
        settings = server_settings()
    return render(status, alone, loads, webhooks, split, settings)


def server_settings():
    """The server settings that decide what a commit costs."""
    import psycopg

    with psycopg.connect(bench_procs.PG_ADMIN, autocommit=True, connect_timeout=3) as conn:
        return {name: conn.execute(f"SHOW {name}").fetchone()[0]
                for name in ("server_version", "synchronous_commit", "commit_delay", "wal_sync_method")}


def render(status, alone, loads, webhooks, split, settings):
    trips = sum(kind in ("sync", "query") for _, kind, _ in alone)
    lines = ["## PostgreSQL: statements and round trips per webhook", "",
             f"The service from the Procfile ({split[0]} gevent workers) on a throwaway database, reached "
             "through a wire tap that reads what psycopg sends (bench/pgwire.py). A round trip is a Sync or "
             "a simple Query: the driver waits for the server's answer to each. The tap adds latency, so no "
             "speed is taken from this run. Server: "
             + ", ".join(f"{name} {value}" for name, value in settings.items())
             + " (each COMMIT that wrote waits for its WAL flush).", "",
             f"One webhook sent alone after 20 warm-up webhooks (answer {status}; {trips} round trips), in "
             "the order sent (conn: the tap's connection number):", "",
             "| # | conn | message | statement | text |", "|---:|---:|---|---|---|"]
    for i, (number, kind, text) in enumerate(alone, 1):
        named = pgwire.label(text) if text else ""
        lines.append(f"| {i} | {number} | {kind} | {named} | " + (f"`{shown(text)}` |" if text else " |"))
    names = list(next(iter(loads.values()))[0])
    lines += ["", f"Per webhook over {webhooks} webhooks, each a new address, by keep-alive connections:", "",
              "| connections | webhooks | " + " | ".join(names) + " |", "|---:|---:|" + "---:|" * len(names)]
    for connections, (figures, _, result) in loads.items():
        lines.append(f"| {connections} | {result['requests']} ({result['errors']} errors) | "
                     + " | ".join(f"{figures[n]:.2f}" for n in names) + " |")
    statements = list(dict.fromkeys(name for _, counted, _ in loads.values() for name in counted))
    lines += ["", "Executions per webhook, by statement:", "",
              "| statement | " + " | ".join(f"{c} connections" for c in loads) + " |",
              "|---|" + "---:|" * len(loads)]
    for name in statements:
        lines.append(f"| {name} | " + " | ".join(f"{counted.get(name, 0.0):.2f}"
                                                 for _, counted, _ in loads.values()) + " |")
    return lines + ["", *remarks(loads), ""]


def remarks(loads):
    """What the per-webhook figures under the most connections say about group commit and the pool."""
    connections = max(loads)
    figures = loads[connections][0]
    alone = loads[min(loads)][0]
    shared = figures["commits"] < alone["commits"] * 0.9
    said = [f"Over {connections} connections, {figures['commits']:.2f} commits per webhook against "
            f"{alone['commits']:.2f} sent one at a time: "
            + ("several webhooks share a write transaction (group commit)." if shared else
               "every webhook has its transactions to itself (no group commit).")]
    if figures["connections opened"] > 0:
        said.append(f"{figures['connections opened']:.2f} new PostgreSQL connections per webhook: the pool "
                    "closes and reopens connections under load.")
    return said
