"""A suppression list of 100,000 lines through `flask deliveries import` (`python bench/run.py --imports`).

The file is the kind a business brings: 1% of lines invalid, 5% repeats of an earlier line, the address
column under varied aliases (CSV with a header). For SQLite and PostgreSQL, on a fresh ledger: a dry run,
the import, and the same file again; each is its own `flask` process, timed, its peak memory (VmHWM)
read while it runs. Memory is bounded if 10,000 and 100,000 lines peak alike. Under `--all`: SQLite and
the import alone (the whole table takes two minutes more than that run may).
"""

import json
import os
import subprocess
import sys
import tempfile
import time

from bench.procs import ROOT, migrate, peak_rss_mb, pg_database, sqlite_db

ALIASES = ("email", "E-mail", "email_address", "Mail", "subscriber_email")
SIZES = (10_000, 100_000)
STEPS = ("dry run", "import", "again")


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
    env = {**os.environ, "DATABASE_URL": db_url, "FLASK_APP": "app", "PYTHONPATH": ROOT,
           "JUSTCLICK_LOGIN": "bench", "JUSTCLICK_SECRET": "bench-secret", "JUSTCLICK_GROUP": "Main",
           "AUTO_MIGRATE": "0"}
    started, peak = time.monotonic(), 0.0
    with tempfile.TemporaryFile() as out:
        command = [sys.executable, "-m", "flask", "deliveries", "import", path, "--to", "justclick", *args]
        proc = subprocess.Popen(command, cwd=ROOT, env=env, stdout=out, stderr=subprocess.DEVNULL)
        # VmHWM while it runs: its own high-water mark (rusage's maxrss would count the benchmark's own
        # memory, which a forked child starts from).
        while proc.poll() is None:
            peak = max(peak, peak_rss_mb(proc.pid))
            time.sleep(0.05)
        seconds = time.monotonic() - started
        out.seek(0)
        text = out.read()
    if proc.returncode != 0:
        raise RuntimeError(f"import failed ({proc.returncode}): {text[-500:]!r}")
    return json.loads(text), seconds, peak


def measure(db_url, path, steps):
    """{step: (summary, seconds, MB)} for each of the steps: "dry run", "import", "again" (the same file)."""
    flags = {"dry run": ("--dry-run",), "import": (), "again": ()}
    return {step: run_import(db_url, path, *flags[step]) for step in steps}


def databases(tmp, postgres):
    """[(name, url, drop)]: a migrated SQLite file, and with `postgres` a fresh PostgreSQL database."""
    found = [("SQLite", sqlite_db(tmp, "imports"), lambda: None)]
    if postgres:
        url, drop = pg_database()
        migrate(url)
        found.append(("PostgreSQL", url, drop))
    return found


def section(tmp, sizes=SIZES, postgres=True, steps=STEPS):
    """Markdown lines: one row per database, size and step."""
    lines = ["## Bulk import of a suppression list (`flask deliveries import`)", "",
             "Each line of the file: 1% invalid, 5% a repeat of the line before, 94% new; one process per "
             "step, its peak RSS (VmHWM) read while it ran.", "",
             "| database | lines | step | seconds | lines/s | read | queued | duplicates | invalid "
             "| peak RSS MB |",
             "|---|---:|---|---:|---:|---:|---:|---:|---:|---:|"]
    for size in sizes:
        path = os.path.join(tmp, f"list-{size}.csv")
        write_list(path, size)
        for name, url, drop in databases(tmp, postgres):
            try:
                for step, (summary, seconds, mb) in measure(url, path, steps).items():
                    lines.append(f"| {name} | {size:,} | {step} | {seconds:.1f} | {size / seconds:,.0f} | "
                                 f"{summary['read']:,} | {summary['queued']:,} | {summary['duplicates']:,} | "
                                 f"{summary['invalid']:,} | {mb:.0f} |")
            finally:
                drop()
    return lines + [""]
