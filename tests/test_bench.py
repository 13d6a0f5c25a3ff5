"""The benchmark's instruments: each mode runs end to end at its smallest, so none can rot, and the
pieces that turn raw readings into figures are checked against known answers. No speed is asserted."""

import os
import subprocess
import sys
import tempfile
import time

import pytest

from bench import bulk, cpu, growth, pgpath, pgwire, procs, report, stages, tls
from bench.load import parse_wrk
from bench.upstream import lead_email, stats
from tests.conftest import relay_of

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CONTENDERS = ("unsub-relay (SQLite)", "unsub-relay (PostgreSQL)", "naive forwarder", "pooled forwarder",
              "bare Flask")
MATRIX = [(name, scheme) for scheme in ("plain", "https") for name in CONTENDERS[:4]]

WRK_OUT = """Running 1s test @ http://127.0.0.1:1/hook
  Latency Distribution
     50%   40.50ms
     99%    1.19s
  2000 requests in 4.00s, 1.00MB read
{extra}Requests/sec:    500.00
"""


def _table_rows(lines, title):
    """The rows of the table under a markdown heading, as lists of stripped cells."""
    start = lines.index(title)
    rows = []
    for line in lines[start + 2:]:
        if not line.startswith("|"):
            if rows:
                break
            continue
        rows.append([cell.strip() for cell in line.split("|")[1:-1]])
    return rows[2:]  # past the header and the alignment row


@pytest.mark.slow
@pytest.mark.postgres
def test_benchmark_smoke(pg_database, tmp_path):
    out = tmp_path / "RESULTS.md"
    path = f"{os.path.dirname(sys.executable)}:{os.environ['PATH']}"
    admin = pg_database.rsplit("/", 1)[0] + "/postgres"
    run = subprocess.run([sys.executable, "bench/run.py", "--smoke", "--out", str(out)], cwd=ROOT,
                         capture_output=True, text=True, timeout=300,
                         env={**os.environ, "PATH": path, "BENCH_DATABASE_URL": admin})
    assert run.returncode == 0, run.stderr[-3000:]
    lines = out.read_text().splitlines()
    matrix = {(cells[0], cells[1]): cells
              for cells in _table_rows(lines, "## Fast upstream: SQLite and PostgreSQL, plain and HTTPS")}
    assert set(matrix) == set(MATRIX)
    for (name, _), cells in matrix.items():
        assert float(cells[3].split()[0]) > 0, cells  # CPU µs per webhook was measured
        postgres = float(cells[4].split()[0]) if "PostgreSQL" in name else None
        assert postgres is None or 0 < postgres < float(cells[3].split()[0]), cells
    for title, names in (("## Fast upstream, plain HTTP", CONTENDERS),
                         ("## Fast upstream, HTTPS (a throwaway CA, trusted through REQUESTS_CA_BUNDLE)",
                          CONTENDERS[:4])):
        rows = {cells[0]: cells for cells in _table_rows(lines, title)}
        assert set(rows) == set(names)
        assert all(cells[-1] == "0" for cells in rows.values()), rows  # no errors from any contender
    assert "| 50 | 50 |" in lines[lines.index("## Backlog drained by one worker (upstream at 50 ms)") + 4]


@pytest.mark.parametrize("extra, answered, errors", [
    ("", 2000, 0),
    ("  Non-2xx or 3xx responses: 7\n", 1993, 7),
    ("  Socket errors: connect 0, read 2, write 0, timeout 3\n", 2000, 5),
], ids=["clean", "non-2xx-not-answered", "socket-errors-counted"])
def test_parse_wrk(extra, answered, errors):
    figures = parse_wrk(WRK_OUT.format(extra=extra))
    assert (figures["answered"], figures["errors"], figures["requests"]) == (answered, errors, 2000)
    assert (figures["rps"], figures["p50_ms"], figures["p99_ms"]) == (500.0, 40.5, 1190.0)


@pytest.mark.parametrize("text, times", [
    ("42 (python) S 1 42 42 0 -1 4194560 1 0 0 0 11 7 3 2 20 0 1 0", (11, 7, 3, 2)),
    ("43 (gunicorn: worker [app]) R 1 4 4 0 -1 0 0 0 0 0 100 50 0 0 20 0 1 0", (100, 50, 0, 0)),
    ("44 (a) b) c) S 1 4 4 0 -1 0 0 0 0 0 5 6 7 8 20 0 1 0", (5, 6, 7, 8)),
], ids=["plain", "spaces-in-name", "parenthesis-in-name"])
def test_stat_times(text, times):
    assert cpu.stat_times(text) == times


def test_tree_cpu_counts_children_and_reaped_grandchildren():
    burn = "import time\nend = time.process_time() + 0.3\nwhile time.process_time() < end: pass\n"
    parent = subprocess.Popen([sys.executable, "-c", f"import subprocess, sys, time\n"
                               f"subprocess.run([sys.executable, '-c', {burn!r}])\n"
                               "print('reaped', flush=True)\ntime.sleep(30)"],
                              stdout=subprocess.PIPE, text=True)
    try:
        assert parent.stdout.readline().strip() == "reaped"
        assert cpu.tree(parent.pid) == [parent.pid]  # the grandchild is gone: its time is the parent's cutime
        assert cpu.tree_cpu_seconds(parent.pid) >= 0.3
    finally:
        parent.kill()
        parent.wait()
        parent.stdout.close()


def test_tree_lists_descendants():
    parent = subprocess.Popen([sys.executable, "-c", "import subprocess, sys\n"
                               "subprocess.run([sys.executable, '-c', 'import time; time.sleep(30)'])"])
    try:
        deadline = time.monotonic() + 10
        while len(cpu.tree(parent.pid)) < 2 and time.monotonic() < deadline:
            time.sleep(0.02)
        assert len(cpu.tree(parent.pid)) == 2
    finally:
        for pid in reversed(cpu.tree(parent.pid)):
            os.kill(pid, 9)
        parent.wait()


@pytest.mark.parametrize("values, text", [
    ([720.4], "720 (720-720)"),
    ([3, 1, 2], "2 (1-3)"),
    ([1.0, 4.0], "2 (1-4)"),
], ids=["one", "odd", "even-median"])
def test_figure(values, text):
    assert report.figure(values) == text


def test_ratios_pair_rounds():
    runs = {"a": [{"cpu_us": 10.0}, {"cpu_us": 30.0}], "b": [{"cpu_us": 20.0}, {"cpu_us": 20.0}]}
    assert report.paired_ratios(runs, "a", "b", "cpu_us") == [0.5, 1.5]
    assert report.ratio(runs, "a", "b", "cpu_us") == "1.00x (0.50-1.50)"
    assert report.ratio(runs, "b", "b", "cpu_us") == "1.00x"


def test_upstream_tally():
    assert lead_email(b"lead_email=a%40example.com&rass_name=Main&hash=x") == "a@example.com"
    assert stats({"a": 1, "b": 2, "c": 3}) == {"received": 6, "distinct": 3, "twice": 2}


# --- profile ---------------------------------------------------------------------------------------

F, G, H, ROOT_KEY = ("f.py", 1, "f"), ("g.py", 1, "g"), ("h.py", 1, "h"), ("r.py", 1, "root")


@pytest.mark.parametrize("keys, seconds", [
    ({F}, 3.0),
    ({F, G}, 3.0),  # g is called by f: counted once, inside f
    ({G}, 2.0),
    ({G, H}, 2.5),  # h is called by root and by g: only root's share of h is added
    (set(), 0.0),
], ids=["one", "nested-not-double-counted", "callee", "shared-callee", "nothing-mapped"])
def test_stage_seconds(keys, seconds):
    raw = {ROOT_KEY: (1, 1, 0.0, 4.0, {}),
           F: (1, 1, 1.0, 3.0, {ROOT_KEY: (1, 1, 1.0, 3.0)}),
           G: (1, 1, 1.0, 2.0, {F: (1, 1, 1.0, 2.0)}),
           H: (2, 2, 1.0, 1.0, {ROOT_KEY: (1, 1, 0.5, 0.5), G: (1, 1, 0.5, 0.5)})}
    assert stages.stage_seconds(raw, keys) == pytest.approx(seconds)


@pytest.mark.parametrize("name, resolves", [
    ("store.ledger:Ledger.accept", True),
    ("edge.auth:authorize", True),
    ("store.ledger:Ledger.no_such_method", False),
    ("no_such_module:thing", False),
], ids=["method", "function", "missing-attribute", "missing-module"])
def test_code_key(name, resolves):
    assert (stages.code_key(name) is not None) == resolves


@pytest.mark.slow
def test_profile_attributes_every_stage(tmp_path):
    children = procs.Procs(str(tmp_path))
    try:
        lines = stages.section(children, 20)
    finally:
        children.stop_all()
    rows = {line.split("|")[1].strip(): line for line in lines if line.startswith("| ")}
    for stage in stages.STAGES:
        assert float(rows[stage].split("|")[2]) > 0, rows[stage]
    assert not [line for line in lines if "WARNING" in line]
    assert "Failures: 0." in "\n".join(lines)


VENV = os.path.join(ROOT, ".venv/lib/python3.11/site-packages")


@pytest.mark.parametrize("key, found", [
    (stages.SOCKET_READ, stages.UPSTREAM_WAIT),
    ((f"{VENV}/psycopg/connection.py", 479, "wait"), stages.DATABASE_WAIT),
    ((f"{VENV}/psycopg/_cursor_base.py", 583, "_send_query_prepared"), "psycopg (driver)"),
    (("~", 0, "<method 'execute' of 'psycopg_binary._psycopg.PGconn' objects>"), "psycopg (driver)"),
    (("~", 0, "<built-in method builtins.len>"), "C built-ins (any caller)"),
    ((f"{VENV}/sqlalchemy/engine/base.py", 1, "execute"), "SQLAlchemy"),
    ((f"{VENV}/urllib3/connectionpool.py", 1, "urlopen"), "HTTP client (urllib3, http.client, ssl)"),
    ((f"{ROOT}/store/ledger.py", 1, "accept"), "unsub-relay"),
    (("/usr/lib/python3.11/json/decoder.py", 1, "decode"), "Python standard library"),
], ids=["upstream-wait", "database-wait", "psycopg", "psycopg-c", "builtin", "sqlalchemy", "urllib3", "app",
        "stdlib"])
def test_library_of_a_function(key, found):
    assert stages.library(key) == found


@pytest.mark.slow
@pytest.mark.postgres
def test_library_section_on_both_databases(pg_database, monkeypatch, tmp_path):
    monkeypatch.setattr(procs, "PG_ADMIN", pg_database.rsplit("/", 1)[0] + "/postgres")
    children = procs.Procs(str(tmp_path))
    with pgpath.throwaway_database() as (url, _):
        try:
            lines = stages.library_section(children, 10, {"SQLite": None, "PostgreSQL": url})
        finally:
            children.stop_all()
    rows = {cells[0]: cells for cells in _table_rows(lines, lines[0])}
    assert rows["psycopg (driver)"][1] == "0 (0%)" and float(rows["psycopg (driver)"][2].split()[0]) > 0
    assert float(rows[stages.DATABASE_WAIT][2].split()[0]) > 0
    assert "Failures: 0." in lines


# --- ledger growth ---------------------------------------------------------------------------------

@pytest.mark.parametrize("plan, verdict", [
    (["SEARCH deliveries USING INDEX ix_deliveries_dedup (target=?)"], ""),
    (["SCAN deliveries", "USE TEMP B-TREE FOR ORDER BY"], "table"),
    (["SCAN deliveries USING COVERING INDEX ix_deliveries_request_id"], "index"),
    (["Limit", "  ->  Seq Scan on deliveries", "        Filter: (x)"], "table"),
    (["Limit", "  ->  Index Scan using ix_a on deliveries", "        Index Cond: (x = 1)"], ""),
    (["Unique", "  ->  Index Only Scan using ix_b on deliveries"], "index"),
], ids=["sqlite-search", "sqlite-scan", "sqlite-index-scan", "pg-seq", "pg-index-cond", "pg-whole-index"])
def test_full_scan(plan, verdict):
    assert growth.full_scan(plan) == verdict


@pytest.mark.parametrize("statement, shown", [
    ("SELECT a\n FROM t WHERE id IN (?, ?, ?)", "SELECT a FROM t WHERE id IN (?, ...)"),
    ("UPDATE t SET a=1 WHERE t.id IN (%(id_1_1)s::VARCHAR, %(id_1_2)s::VARCHAR)",
     "UPDATE t SET a=1 WHERE t.id IN (..., ...)"),
    ("SELECT 1 WHERE x = %(x)s", "SELECT 1 WHERE x = %(x)s"),
], ids=["sqlite-in-list", "pg-in-list", "nothing-to-collapse"])
def test_statement_shape(statement, shown):
    assert growth.shape(statement) == shown


@pytest.mark.parametrize("small, large, cell", [
    ((1.0, 1.0), (1.2, 1.1), "1.20x (1.10x) |"),
    ((1.0, 1.0), (2.0, 1.1), "2.00x (1.10x) |"),  # a noisy median alone does not fail it
    ((1.0, 1.0), (2.0, 1.5), "2.00x (1.50x) **over** |"),
], ids=["flat", "noisy-median", "over"])
def test_growth_ratio_cells(small, large, cell):
    results = {(kind, size): {op: figures for op in growth.REPEATS}
               for kind in ("sqlite", "postgresql") for size, figures in ((10, small), (20, large))}
    row = next(line for line in growth.render(results, {}, (10, 20), []) if line.startswith("| purge"))
    assert row.endswith(" " + cell)


def _filled_ledger_behaves(kind, monkeypatch):
    """The bulk fill is what the ledger itself reads: due rows claimable, targets found, old rows purged."""
    size = bulk.PURGEABLE + bulk.DUE + 1000
    seen = {}

    def inspect(app, _size, catcher=None):
        store = relay_of(app).service.store
        seen["claimed"] = len(store.ledger.claim("test", 5000, ["justclick", "mailkit"]))
        seen["found"] = len(store.queries.find(target=bulk.existing_target(size // 2).upper()))
        seen["purged"] = store.queries.purge(90 * bulk.DAY)
        return {}
    monkeypatch.setattr(growth, "time_operations", inspect)
    with tempfile.TemporaryDirectory() as tmp:
        growth.measure(kind, size, tmp, explain=False)
    assert seen == {"claimed": bulk.DUE, "found": 1, "purged": bulk.PURGEABLE}


def test_bulk_fill_sqlite(monkeypatch):
    _filled_ledger_behaves("sqlite", monkeypatch)


@pytest.mark.postgres
def test_bulk_fill_postgres(pg_database, monkeypatch):
    monkeypatch.setattr(procs, "PG_ADMIN", pg_database.rsplit("/", 1)[0] + "/postgres")
    _filled_ledger_behaves("postgresql", monkeypatch)


def test_growth_times_every_operation_and_explains_it(monkeypatch, tmp_path):
    monkeypatch.setattr(growth, "REPEATS", {op: 2 for op in growth.REPEATS})
    timings, _, plans = growth.measure("sqlite", bulk.PURGEABLE + bulk.DUE + 10, str(tmp_path), explain=True)
    assert set(timings) == set(growth.REPEATS) and all(len(spent) == 2 for spent in timings.values())
    explained = {operation for operation, _, plan, _ in plans if plan}
    assert explained == set(growth.REPEATS) - {"dedup look-up"}  # its statement is accept's, explained there
    assert all(seconds > 0 for spent in timings.values() for seconds in spent)


# --- scale-out -------------------------------------------------------------------------------------

@pytest.mark.slow
@pytest.mark.postgres
def test_scaleout_drains_once(pg_database, monkeypatch, tmp_path):
    from bench import scaleout

    monkeypatch.setattr(procs, "PG_ADMIN", pg_database.rsplit("/", 1)[0] + "/postgres")
    monkeypatch.setattr(scaleout, "PHASES", (1, 2))  # a third phase would only add start-up time here
    children = procs.Procs(str(tmp_path))
    try:
        lines = scaleout.section(children, 300, 0.3)
    finally:
        children.stop_all()
    rows = [line for line in lines if line.startswith("| ") and line.split("|")[1].strip().isdigit()]
    assert [row.split("|")[1].strip() for row in rows] == ["1", "2"]
    assert all(float(row.split("|")[2]) > 0 for row in rows), rows
    assert "300 requests for 300 addresses, 0 sent twice" in "\n".join(lines)
    assert lines[-2].endswith("OK") and "NOT" not in lines[-2]



# --- bulk import -----------------------------------------------------------------------------------

@pytest.mark.slow
@pytest.mark.postgres
def test_imports_runs_every_step_on_both_databases(pg_database, monkeypatch, tmp_path):
    from bench import imports

    monkeypatch.setattr(procs, "PG_ADMIN", pg_database.rsplit("/", 1)[0] + "/postgres")
    rows = [line.split("|")[1:-1] for line in imports.section(str(tmp_path), (300,))
            if line.startswith("| SQLite") or line.startswith("| PostgreSQL")]
    steps = {(cells[0].strip(), cells[2].strip()): [cell.strip() for cell in cells] for cells in rows}
    assert set(steps) == {(db, step) for db in ("SQLite", "PostgreSQL")
                          for step in ("dry run", "import", "again")}
    for db in ("SQLite", "PostgreSQL"):
        # read, queued, duplicates, invalid: 3 invalid lines, 15 repeats; nothing new the second time
        assert steps[db, "import"][5:9] == ["300", "282", "15", "3"], steps[db, "import"]
        assert steps[db, "again"][5:9] == ["300", "0", "297", "3"], steps[db, "again"]
        assert 0 < float(steps[db, "import"][9]) < 200


# --- HTTPS upstream --------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def certs(tmp_path_factory):
    return tls.make_certs(str(tmp_path_factory.mktemp("tls")))


def _justclick_call(port, verify):
    import requests

    return requests.post(f"https://127.0.0.1:{port}/bench/api/DeleteSubscribe", data={"lead_email": "a@b.c"},
                         verify=verify, timeout=10)


@pytest.mark.slow
def test_https_upstream_is_trusted_through_the_throwaway_ca_only(certs, tmp_path):
    import requests

    children = procs.Procs(str(tmp_path))
    try:
        port = procs.upstream(children, 0.0, certs=certs)
        assert _justclick_call(port, certs.ca).json()["error_code"] == 0
        with pytest.raises(requests.exceptions.SSLError):
            _justclick_call(port, True)  # certifi's roots: the throwaway CA is trusted by nobody else
    finally:
        children.stop_all()


@pytest.mark.parametrize("certified, scheme, bundle", [
    (False, "http://", None),
    (True, "https://", "ca.pem"),
], ids=["plain", "https"])
def test_service_env_trusts_the_ca_for_https(certs, certified, scheme, bundle):
    env = procs.service_env(1234, "sqlite://", 5678, certs=certs if certified else None)
    assert env["JUSTCLICK_API_URL"].startswith(scheme + "127.0.0.1:1234/")
    trusted = env.get("REQUESTS_CA_BUNDLE")
    assert (os.path.basename(trusted) if trusted else None) == bundle


# --- PostgreSQL path -------------------------------------------------------------------------------

def _message(kind, *strings, tail=b""):
    """A frontend message body as the driver sends it: NUL-terminated strings, then whatever follows."""
    return kind, b"".join(text.encode() + b"\0" for text in strings) + tail


@pytest.mark.parametrize("messages, events", [
    ([_message(b"Q", "BEGIN")], [("query", "BEGIN")]),
    ([_message(b"P", "", "SELECT 1", tail=b"\0\0"), _message(b"B", "", "", tail=b"\0\0"),
      _message(b"E", "", tail=b"\0\0\0\0"), (b"S", b"")],
     [("execute", "SELECT 1"), ("sync", "")]),
    ([_message(b"P", "_pg3_0", "SELECT 2", tail=b"\0\0"), _message(b"P", "", "SELECT 3", tail=b"\0\0"),
      _message(b"B", "", "_pg3_0", tail=b"\0\0"), _message(b"E", "", tail=b"\0\0\0\0")],
     [("execute", "SELECT 2")]),
    ([(b"D", b"P\0"), (b"H", b"")], []),
], ids=["simple-query", "extended-unnamed", "prepared-by-name", "describe-and-flush-ignored"])
def test_wire_tap_reads_messages(messages, events):
    conn = pgwire.Connection(1)
    assert [event for kind, body in messages if (event := conn.read(kind, body))] == events


@pytest.mark.parametrize("text, name", [
    ("BEGIN", "BEGIN"),
    ("SELECT pg_advisory_xact_lock(k) FROM (SELECT unnest($1::BIGINT[]) AS k ORDER BY 1) AS s",
     "SELECT pg_advisory_xact_lock"),
    ("SELECT g.destination, g.state\n FROM destination_gates AS g WHERE g.destination = $1 FOR UPDATE",
     "SELECT destination_gates FOR UPDATE"),
    ("INSERT INTO attempts (a, b) VALUES ($1, $2) RETURNING attempts.id", "INSERT INTO attempts RETURNING"),
    ("UPDATE deliveries SET status=$1 WHERE deliveries.id = $2", "UPDATE deliveries"),
    ("savepoint sa_1", "SAVEPOINT"),
], ids=["begin", "function", "for-update", "insert-returning", "update", "savepoint"])
def test_statement_label(text, name):
    assert pgwire.label(text) == name


def test_wire_summary_per_webhook():
    events = [(0, 1, "connect", ""), (0, 1, "query", "BEGIN"), (0, 1, "execute", "SELECT 1"),
              (0, 1, "sync", ""), (0, 1, "query", "COMMIT")]
    assert pgwire.summary(events, 2) == {"round trips": 1.5, "statements": 1.5, "commits": 0.5,
                                         "connections opened": 0.5}
    assert pgwire.by_statement(events, 2) == {"BEGIN": 0.5, "SELECT 1": 0.5, "COMMIT": 0.5}


@pytest.mark.postgres
def test_backends_cpu_counts_the_work_of_a_connection_opened_in_the_run(pg_database):
    import psycopg

    backends = pgpath.Backends(pgpath.database_name(pg_database))
    try:
        with backends.measuring() as figures, psycopg.connect(pg_database) as conn:
            conn.execute("SELECT count(*) FROM generate_series(1, 2000000)").fetchone()
    finally:
        backends.close()
    assert figures["backends_started"] == 1
    assert figures["cpu_seconds"] > 0


@pytest.mark.slow
@pytest.mark.postgres
def test_roundtrips_list_one_webhook_and_count_per_webhook(pg_database, monkeypatch, tmp_path):
    monkeypatch.setattr(procs, "PG_ADMIN", pg_database.rsplit("/", 1)[0] + "/postgres")
    children = procs.Procs(str(tmp_path))
    try:
        lines = pgpath.section(children, 10, concurrencies=(1, 4), split=(1, 8))
    finally:
        children.stop_all()
    assert "(answer 200;" in "\n".join(lines)
    alone = _table_rows(lines, next(line for line in lines if line.startswith("One webhook sent alone")))
    assert [cells[3] for cells in alone].count("COMMIT") >= 1, alone
    per_webhook = _table_rows(lines, next(line for line in lines if line.startswith("Per webhook over")))
    assert [(cells[0], cells[1]) for cells in per_webhook] == [("1", "10 (0 errors)"), ("4", "12 (0 errors)")]
    assert all(float(cells[2]) > 0 for cells in per_webhook)  # round trips were seen
