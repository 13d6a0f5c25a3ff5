"""A suppression list of 100,000 lines through `flask deliveries import` (`python bench/run.py --imports`).

The file is the kind a business brings: 1% of lines invalid, 5% repeats of an earlier line, the address
column under varied aliases (CSV with a header). For SQLite and PostgreSQL, on a fresh ledger: a dry run,
the import, and the same file again; each is its own `flask` process, timed, and its peak memory read
from the kernel when it ends (ru_maxrss of wait4). Memory is bounded if 10,000 and 100,000 lines peak alike.
"""

import json
import os
import subprocess
import sys
import time

from bench.procs import ROOT, migrate, pg_database, sqlite_db

ALIASES = ("email", "E-mail", "email_address", "Mail", "subscriber_email")
SIZES = (10_000, 100_000)


def write_list(path, count):
    """Write the list; returns (invalid, repeated) line counts it holds."""
    invalid = repeated = 0
    with open(path, "w", encoding="utf-8") as f:
        f.write(f"{ALIASES[count % len(ALIASES)]},Group\n")
        for i in range(count):
            if i % 100 == 7:
                f.write(f"broken-{i}@,Main\n")
                invalid += 1
            elif i % 20 == 3:
                f.write(f"person{i - 1}@example.com,Main\n")
                repeated += 1
            else:
                f.write(f"person{i}@example.com,Main\n")
    return invalid, repeated


def run_import(db_url, path, *args):
    """(summary, seconds, peak RSS in MB) of one `flask deliveries import` process."""
    env = {**os.environ, "DATABASE_URL": db_url, "FLASK_APP": "app", "PYTHONPATH": ROOT, "JUSTCLICK_LOGIN": "bench",
           "JUSTCLICK_SECRET": "bench-secret", "JUSTCLICK_GROUP": "Main", "AUTO_MIGRATE": "0"}
    started = time.monotonic()
    proc = subprocess.Popen([sys.executable, "-m", "flask", "deliveries", "import", path, "--to", "justclick",
                             *args], cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    with proc.stdout:
        out = proc.stdout.read()
    _, status, usage = os.wait4(proc.pid, 0)  # the child's own peak memory, which Popen.wait does not give
    proc.returncode = os.waitstatus_to_exitcode(status)
    seconds = time.monotonic() - started
    if proc.returncode != 0:
        raise RuntimeError(f"import failed ({proc.returncode}): {out[-500:]!r}")
    return json.loads(out), seconds, usage.ru_maxrss / 1024


def measure(db_url, path):
    """{step: (summary, seconds, MB)} for a dry run, the import and the same file again."""
    return {"dry run": run_import(db_url, path, "--dry-run"), "import": run_import(db_url, path),
            "again": run_import(db_url, path)}


def databases(tmp):
    """[(name, url, drop)]: a migrated SQLite file and a fresh PostgreSQL database."""
    found = [("SQLite", sqlite_db(tmp, "imports"), lambda: None)]
    url, drop = pg_database()
    migrate(url)
    found.append(("PostgreSQL", url, drop))
    return found


def section(tmp, sizes=SIZES):
    """Markdown lines: one row per database, size and step."""
    lines = ["## Bulk import of a suppression list (`flask deliveries import`)", "",
             "Each line of the file: 1% invalid, 5% a repeat of the line before, 94% new; one process per step, "
             "peak RSS from the kernel when it ended.", "",
             "| database | lines | step | seconds | lines/s | read | queued | duplicates | invalid | peak RSS MB |",
             "|---|---:|---|---:|---:|---:|---:|---:|---:|---:|"]
    for size in sizes:
        path = os.path.join(tmp, f"list-{size}.csv")
        write_list(path, size)
        for name, url, drop in databases(tmp):
            try:
                for step, (summary, seconds, mb) in measure(url, path).items():
                    lines.append(f"| {name} | {size:,} | {step} | {seconds:.1f} | {size / seconds:,.0f} | "
                                 f"{summary['read']:,} | {summary['queued']:,} | {summary['duplicates']:,} | "
                                 f"{summary['invalid']:,} | {mb:.0f} |")
            finally:
                drop()
    return lines + [""]
