"""Where one webhook's time goes, stage by stage (`python bench/run.py --profile [N]`).

The app runs in this process (no production code edited): N webhooks, every one a new address, go
through Flask's test client to a fast fake JustClick (bench/upstream.py) and a SQLite ledger, under
cProfile. A stage's time is the cumulative time of the production functions mapped to it in STAGES,
counting only calls from outside the stage, so a stage never counts one call twice.

cProfile runs on its usual wall clock: a CPU clock costs 1.7 µs per read on this VM, several per
function call, and would distort the stages far more. What is not CPU is taken out: the wait for the
upstream's answer (own time of socket reads) is shown apart from send. Each stage's CPU is then
estimated as its share of the profiled request times the unprofiled CPU per webhook (thread time).

After a refactor, update STAGES: a mapped name that no longer resolves or never ran is reported as 0
and listed in a warning.
"""

import cProfile
import importlib
import inspect
import logging
import os
import pstats
import tempfile
import time

from bench.procs import LOGIN, ROOT, SECRET, TOKEN, upstream

# stage -> production functions, "module:qualified name". Order: as a webhook meets them.
STAGES = {
    "auth": ["edge.auth:authorize"],
    "parse": ["webhooks.intake:parse", "schemas.inbound:read_items", "schemas.inbound:canonical"],
    "validation": ["delivery.planning:make_plan"],
    "ledger accept": ["store.ledger:Ledger.accept"],
    "send (sign, post, read)": ["connectors.justclick:JustClick.body", "connectors.base:Connector.post"],
    "verify": ["connectors.justclick:JustClick._verified"],
    "ledger record": ["store.ledger:Ledger.record"],
    "answer": ["delivery.answer:answer_of", "webhooks.answers:respond"],
    "logging": ["webhooks.logs:webhook_line"],
}
VIEW, REQUEST = "webhooks.routes:receive", "flask.app:Flask.wsgi_app"
# Blocking reads of the upstream's answer: waiting, not CPU (the ledger is SQLite, no socket).
SOCKET_READ = ("~", 0, "<method 'recv_into' of '_socket.socket' objects>")
TOP_FUNCTIONS = 12


def code_key(qualified):
    """pstats' key (file, first line, name) of 'module:Class.function', or None when it does not resolve."""
    module, _, qualname = qualified.partition(":")
    try:
        found = importlib.import_module(module)
        for part in qualname.split("."):
            found = getattr(found, part)
    except (ImportError, AttributeError):
        return None
    code = getattr(inspect.unwrap(found), "__code__", None)
    return (code.co_filename, code.co_firstlineno, code.co_name) if code else None


def stage_seconds(stats, keys):
    """Cumulative seconds of `keys` in pstats' raw stats, counting only entries from outside `keys`."""
    total = 0.0
    for key in keys:
        if key not in stats:
            continue
        _, _, _, cumulative, callers = stats[key]
        if not callers:  # a root of the profile
            total += cumulative
        total += sum(times[3] for caller, times in callers.items() if caller not in keys)
    return total


def attribute(stats, stages):
    """({stage: seconds}, [mapped names that do not resolve or never ran])."""
    seconds, missing = {}, []
    for stage, names in stages.items():
        keys = set()
        for name in names:
            key = code_key(name)
            if key is None or key not in stats:
                missing.append(name)
            else:
                keys.add(key)
        seconds[stage] = stage_seconds(stats, keys)
    return seconds, missing


class _Discard:
    """A stream that takes every log line and keeps none."""

    def write(self, text):
        return len(text)

    def flush(self):
        pass


def _app(up_port, database_url):
    # Log lines are formatted and handled as in production, then dropped: a handler set before the
    # app's init_logging is kept by it (under pytest, its capture handler plays that part).
    if not logging.getLogger().handlers:
        logging.basicConfig(stream=_Discard(), level=logging.INFO,
                            format="%(asctime)s %(levelname)s %(name)s %(message)s")
    from app import create_app
    return create_app({"JUSTCLICK_LOGIN": LOGIN, "JUSTCLICK_SECRET": SECRET, "JUSTCLICK_GROUP": "Main",
                       "JUSTCLICK_API_URL": f"http://127.0.0.1:{up_port}/{{login}}/api/",
                       "WEBHOOK_TOKENS": TOKEN, "DATABASE_URL": database_url,
                       "JUSTCLICK_MAX_RATE": "0", "HOOK_RATE_LIMIT": "1000000 per minute"})


def _post_many(client, count, prefix):
    """Post `count` webhooks with new addresses; returns how many were not answered 200."""
    failures = 0
    for i in range(count):
        answer = client.post(f"/hooks/justclick?token={TOKEN}", data=f"email={prefix}-{i}%40example.com",
                             content_type="application/x-www-form-urlencoded")
        failures += answer.status_code != 200
    return failures


def _cpu_in_request(app):
    """Wrap the app's WSGI entry (in the bench only) to add up its thread CPU time, unprofiled."""
    spent = [0.0]
    inner = app.wsgi_app

    def timed(environ, start_response):
        started = time.thread_time()
        try:
            return inner(environ, start_response)
        finally:
            spent[0] += time.thread_time() - started
    app.wsgi_app = timed
    return spent, lambda: setattr(app, "wsgi_app", inner)


def measure(app, count):
    """(unprofiled CPU seconds per request, raw pstats, failures)."""
    client = app.test_client()
    failures = _post_many(client, min(count, 100), "warm")
    spent, unwrap = _cpu_in_request(app)
    failures += _post_many(client, count, "plain")
    unwrap()
    profiler = cProfile.Profile()
    profiler.runcall(_post_many, client, count, "profiled")
    stats = pstats.Stats(profiler)
    return spent[0] / count, stats, failures


def profiled(procs, count, database_url=None):
    """(unprofiled CPU seconds per webhook, pstats, failures) of `count` webhooks in-process, on
    `database_url` (default: a SQLite file of its own)."""
    with tempfile.TemporaryDirectory(prefix="unsub-profile-") as tmp:
        app = _app(upstream(procs, 0.0), database_url or f"sqlite:///{tmp}/profile.sqlite3")
        try:
            return measure(app, count)
        finally:
            app.extensions["unsub_relay"].service.store.close()


def section(procs, count):
    """Markdown lines: time per stage per webhook, the top functions, and a warning for stale names."""
    plain, stats, failures = profiled(procs, count)
    raw = stats.stats
    seconds, missing = attribute(raw, STAGES)
    frame, _ = attribute(raw, {"request": [REQUEST], "view": [VIEW]})
    frame["wait"] = raw[SOCKET_READ][2] if SOCKET_READ in raw else 0.0
    per = 1e6 / count
    table = stage_rows({k: v * per for k, v in seconds.items()}, {k: v * per for k, v in frame.items()},
                       plain * 1e6)
    return render(count, plain * 1e6, table, missing, failures, top_functions(stats))


def stage_rows(stages_us, frame_us, cpu_us):
    """[(row, profiled µs, share, estimated CPU µs)]: the stages, the upstream wait apart, the rest."""
    busy = frame_us["request"] - frame_us["wait"]  # the profiled request without the upstream's time
    rows = [(stage, spent - (frame_us["wait"] if stage.startswith("send") else 0.0))
            for stage, spent in stages_us.items()]
    rows += [("rest of the view (routing glue)", frame_us["view"] - sum(stages_us.values())),
             ("Flask and Werkzeug around the view", frame_us["request"] - frame_us["view"])]
    table = [(name, spent, spent / busy if busy > 0 else 0.0) for name, spent in rows]
    table = [(name, spent, share, share * cpu_us) for name, spent, share in table]
    return table + [("(not CPU) waiting for the upstream's answer", frame_us["wait"], None, None)]


def top_functions(stats, limit=TOP_FUNCTIONS):
    """[(seconds of own time, 'file:line(name)')] of the functions with the most own time."""
    rows = sorted(stats.stats.items(), key=lambda item: item[1][2], reverse=True)[:limit]
    return [(own, f"{os.path.relpath(key[0]) if key[0].startswith('/') else key[0]}:{key[1]}({key[2]})")
            for key, (_, _, own, _, _) in rows]


def render(count, cpu_us, table, missing, failures, top):
    per = 1e6 / count
    lines = [f"## Time per stage ({count} webhooks in-process, cProfile)", "",
             f"Unprofiled CPU per webhook inside the WSGI app: {cpu_us:.0f} µs (thread time). Estimated CPU "
             "= the stage's share of the profiled request (upstream wait excluded) x that figure. "
             f"Failures: {failures}.", "",
             "| stage | profiled µs | share | estimated CPU µs |", "|---|---:|---:|---:|"]
    for name, spent, share, estimate in table:
        lines.append(f"| {name} | {spent:.0f} | {share:.0%} | {estimate:.0f} |" if share is not None else
                     f"| {name} | {spent:.0f} | - | - |")
    lines += ["", "Most own time (profiled):", "", "| µs per webhook | function |", "|---:|---|"]
    lines += [f"| {own * per:.0f} | `{where}` |" for own, where in top]
    if missing:
        lines += ["", "WARNING: mapped in bench/stages.py STAGES but never ran (update the map): "
                  + ", ".join(missing)]
    return lines + [""]


# --- by library: SQLite against PostgreSQL ---------------------------------------------------------

UPSTREAM_WAIT, DATABASE_WAIT = "(not CPU) waiting for the upstream", "(not CPU) waiting for PostgreSQL"
# (test on the file path, library); the first that matches names a function's library.
HTTP_CLIENT = "HTTP client (urllib3, http.client, ssl)"
LIBRARIES = (("/psycopg", "psycopg (driver)"), ("/sqlalchemy/", "SQLAlchemy"),
             ("/flask/", "Flask and Werkzeug"), ("/werkzeug/", "Flask and Werkzeug"),
             ("/urllib3/", HTTP_CLIENT), ("/http/client.py", HTTP_CLIENT), ("/ssl.py", HTTP_CLIENT),
             ("/site-packages/", "other libraries"))


def library(key, root=ROOT):
    """The library a pstats key (file, line, name) belongs to, or one of the two waits."""
    path, _, name = key
    if key == SOCKET_READ:
        return UPSTREAM_WAIT
    # psycopg waits for the server inside Connection.wait (its C wait shows as that function's own time).
    if path.endswith(("psycopg/connection.py", "psycopg/waiting.py")) and name.startswith("wait"):
        return DATABASE_WAIT
    if path == "~":
        return "psycopg (driver)" if "psycopg" in name else "C built-ins (any caller)"
    found = next((found for part, found in LIBRARIES if part in path), None)
    if found:
        return found
    return "unsub-relay" if path.startswith(root) else "Python standard library"


def by_library(stats):
    """{library: own seconds} over a profile."""
    totals = {}
    for key, (_, _, own, _, _) in stats.stats.items():
        totals[library(key)] = totals.get(library(key), 0.0) + own
    return totals


def library_section(procs, count, databases):
    """Markdown lines: per webhook, each library's share of the CPU, on each database of `databases`
    ({title: database URL or None for SQLite}); the waits apart."""
    profiles = {title: profiled(procs, count, url) for title, url in databases.items()}
    columns = {title: (cpu, by_library(stats), failed) for title, (cpu, stats, failed) in profiles.items()}
    names = sorted({name for _, totals, _ in columns.values() for name in totals},
                   key=lambda name: (name.startswith("(not CPU)"), name))
    lines = [f"## CPU by library ({count} webhooks in-process, cProfile): " + " against ".join(databases), "",
             "Each library's own time (functions in its files) as a share of the profiled request without "
             "the waits, times the unprofiled CPU per webhook (thread time, in the WSGI app, as in the table "
             "above; no gevent here). PostgreSQL's own CPU is not in these figures: see the fast "
             "contest.", "",
             "| library | " + " | ".join(f"{title} µs (share)" for title in databases) + " |",
             "|---|" + "---:|" * len(databases)]
    for name in names:
        cells = []
        for cpu, totals, _ in columns.values():
            waits = sum(seconds for lib, seconds in totals.items() if lib.startswith("(not CPU)"))
            busy = sum(totals.values()) - waits
            own = totals.get(name, 0.0)
            cells.append(f"{own * 1e6 / count:.0f} profiled" if name.startswith("(not CPU)") else
                         f"{own / busy * cpu * 1e6:.0f} ({own / busy:.0%})" if busy > 0 else "-")
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    lines.append("| CPU per webhook (unprofiled) | "
                 + " | ".join(f"{cpu * 1e6:.0f}" for cpu, _, _ in columns.values()) + " |")
    failures = sum(failed for _, _, failed in columns.values())
    return lines + ["", f"Failures: {failures}.", ""]
