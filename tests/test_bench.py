"""The benchmark's instruments: each mode runs end to end at its smallest, so none can rot, and the
pieces that turn raw readings into figures are checked against known answers. No speed is asserted."""

import os
import subprocess
import sys
import tempfile
import time

import pytest

from bench import bulk, cpu, growth, procs, report, stages
from bench.load import parse_wrk
from bench.upstream import lead_email, stats

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CONTENDERS = ("unsub-relay", "naive forwarder", "pooled forwarder", "bare Flask")

WRK_OUT = """Running 1s test @ http://127.0.0.1:1/hook
  Latency Distribution
     50%   40.50ms
     99%    1.19s
  2000 requests in 4.00s, 1.00MB read
{extra}Requests/sec:    500.00
"""


@pytest.mark.slow
def test_benchmark_smoke(tmp_path):
    out = tmp_path / "RESULTS.md"
    path = f"{os.path.dirname(sys.executable)}:{os.environ['PATH']}"
    run = subprocess.run([sys.executable, "bench/run.py", "--smoke", "--out", str(out)], cwd=ROOT,
                         capture_output=True, text=True, timeout=300, env={**os.environ, "PATH": path})
    assert run.returncode == 0, run.stderr[-3000:]
    report_text = out.read_text()
    rows = {}
    for line in report_text.splitlines():  # the first table: the fast contest
        if line.startswith("| "):
            rows.setdefault(line.split("|")[1].strip(), line.split("|")[1:-1])
    for name in CONTENDERS:
        cells = [cell.strip() for cell in rows[name]]
        assert cells[-1] == "0", cells  # no errors from any contender
        assert float(cells[4].split()[0]) > 0, cells  # CPU µs per request was measured
    assert "| 50 | 50 |" in report_text  # the whole backlog was delivered


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
        store = app.extensions["delivery"].store
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
