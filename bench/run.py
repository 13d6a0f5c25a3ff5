"""The benchmark: unsub-relay against the naive forwarder, the pooled forwarder and a bare endpoint.

    python bench/run.py              # default run (about five minutes idle), writes bench/RESULTS.md
    python bench/run.py --smoke      # smallest setting, under a minute, for CI
    python bench/run.py --plain      # the fast contest against the plain HTTP upstream only (default: both)
    python bench/run.py --https      # ... against the HTTPS upstream only (a throwaway CA, bench/tls.py)
    python bench/run.py --no-postgres  # unsub-relay on SQLite only (default: on SQLite and on PostgreSQL)
    python bench/run.py --all        # everything below as well (under five minutes)
    python bench/run.py --profile    # + CPU per stage of one webhook, by library on SQLite and PostgreSQL
    python bench/run.py --splits     # + the contest under 2x16, 3x8 and 4x4 workers x threads
    python bench/run.py --growth     # + ledger costs at 10,000 and 1,000,000 rows, SQLite and PostgreSQL
    python bench/run.py --scaleout   # + a 20,000 backlog drained by 1, 2 and 4 workers on PostgreSQL
    python bench/run.py --imports    # + a 100,000-line suppression list imported (SQLite, PostgreSQL)
    python bench/run.py --roundtrips # + PostgreSQL statements, commits and round trips per webhook
    python bench/run.py --only --profile   # just the named extras (printed; RESULTS.md only with --out)

Everything runs on 127.0.0.1. Contenders alternate within each round; every request a new address.
"""

import argparse
import os
import shutil
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from bench import contest, report  # noqa: E402
from bench.procs import ROOT, Procs  # noqa: E402

DEFAULT = {"rounds": 5, "requests": 2000, "roundtrips": 200, "connections": 32, "slow_requests": 1500,
           "slow_connections": 64,
           "backlog": 1000, "split_rounds": 2, "split_requests": 1000, "profile": 500,
           "growth": (10_000, 1_000_000), "scaleout": 20_000, "scaleout_seconds": 6.0,
           "imports": (10_000, 100_000)}
SMOKE = {"rounds": 1, "requests": 120, "warmup": 20, "roundtrips": 20, "connections": 8, "slow_requests": 50,
         "slow_connections": 8,
         "backlog": 50, "split_rounds": 1, "split_requests": 100, "profile": 30, "growth": (4_000, 8_000),
         "scaleout": 300, "split": (1, 8),  # one worker each: half the app imports
         "scaleout_seconds": 1.0, "imports": (300,)}
SPLITS = ((3, 8), (4, 4))  # 2 x 16 is the default run's own table


def parse_args(argv):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--smoke", action="store_true", help="smallest setting: a few seconds")
    parser.add_argument("--out", help="where to write the report (default bench/RESULTS.md for a full run)")
    parser.add_argument("--all", action="store_true",
                        help="--profile --splits --growth --scaleout --imports --roundtrips")
    parser.add_argument("--only", action="store_true", help="skip the default contest; run just the extras")
    parser.add_argument("--profile", nargs="?", type=int, const=-1, metavar="N",
                        help="CPU per stage over N webhooks (default 500)")
    parser.add_argument("--splits", action="store_true", help="compare 2x16, 3x8, 4x4 workers x threads")
    parser.add_argument("--growth", action="store_true", help="ledger costs at 10k and 1M rows")
    parser.add_argument("--scaleout", action="store_true",
                        help="a backlog drained by 1, 2, 4 workers (PostgreSQL)")
    parser.add_argument("--imports", action="store_true", help="a 100,000-line suppression list imported")
    parser.add_argument("--roundtrips", action="store_true",
                        help="statements, commits and round trips per webhook on PostgreSQL")
    schemes = parser.add_mutually_exclusive_group()
    schemes.add_argument("--plain", dest="schemes", action="store_const", const=("plain",),
                         help="the fast contest against the plain HTTP upstream only")
    schemes.add_argument("--https", dest="schemes", action="store_const", const=("https",),
                         help="the fast contest against the HTTPS upstream only")
    parser.add_argument("--no-postgres", dest="postgres", action="store_false",
                        help="unsub-relay on SQLite only in the fast contest")
    args = parser.parse_args(argv)
    args.schemes = args.schemes or contest.SCHEMES
    if args.all:
        args.splits = args.growth = args.scaleout = args.imports = args.roundtrips = True
        args.profile = args.profile or -1
    if args.out is None and not args.only:
        args.out = os.path.join(ROOT, "bench", "RESULTS.md")
    return args


def sections(args, settings, procs, tmp):
    """Markdown lines of every section asked for, in the order they run."""
    lines = []
    if not args.only:
        split = settings.get("split", (2, 16))
        fast, memory = contest.scenario_fast(procs, tmp, settings, split, args.schemes, args.postgres)
        slow = contest.scenario_slow(procs, tmp, settings["slow_requests"], settings["slow_connections"],
                                     split)
        backlog = contest.scenario_backlog(procs, tmp, settings["backlog"])
        lines += report.main_sections(fast, memory, slow, backlog)
    if args.splits:
        shorter = {**settings, "rounds": settings["split_rounds"], "requests": settings["split_requests"]}
        by_split = {split: contest.scenario_fast(procs, tmp, shorter, split)[0]["plain"] for split in SPLITS}
        lines += report.splits_section(by_split, settings)
    if args.profile is not None:
        from bench import stages
        count = settings["profile"] if args.profile < 0 else args.profile
        lines += stages.section(procs, count)
        lines += _library_section(procs, count, args.postgres)
    if args.roundtrips:
        from bench import pgpath
        lines += pgpath.section(procs, settings["roundtrips"], (1, settings["connections"]),
                               settings.get("split", (2, 16)))
    if args.growth:
        from bench import growth
        lines += growth.section(tmp, settings["growth"], procs)
    if args.scaleout:
        from bench import scaleout
        lines += scaleout.section(procs, settings["scaleout"], settings["scaleout_seconds"])
    if args.imports:
        from bench import imports
        whole = not args.all  # --all: SQLite and the import alone, to stay under five minutes
        lines += imports.section(tmp, settings["imports"], postgres=whole,
                                 steps=imports.STEPS if whole else ("import",))
    return lines


def _library_section(procs, count, postgres):
    """CPU by library on SQLite and (unless --no-postgres) on a throwaway PostgreSQL database."""
    from bench import pgpath, stages
    if not postgres:
        return stages.library_section(procs, count, {"SQLite": None})
    with pgpath.throwaway_database() as (url, _):
        return stages.library_section(procs, count, {"SQLite": None, "PostgreSQL": url})


def main(argv=None):
    args = parse_args(argv)
    loader = "wrk" if shutil.which("wrk") else "bench/load.py"
    settings = {**(SMOKE if args.smoke else DEFAULT), "loader": loader}
    tmp = tempfile.mkdtemp(prefix="unsub-bench-")
    procs = Procs(tmp)
    started, load_before = time.monotonic(), os.getloadavg()[0]
    try:
        lines = report.header(settings) + sections(args, settings, procs, tmp)
    finally:
        procs.stop_all()
    text = "\n".join(lines) + (
        f"\nTotal benchmark time: {time.monotonic() - started:.0f} s. Load average (1 min) before the run: "
        f"{load_before:.1f} (other processes; near 0 when the machine is idle), at the end: "
        f"{os.getloadavg()[0]:.1f} (the bench's own too).\n")
    if args.out:
        with open(args.out, "w") as f:
            f.write(text)
    print(text)
    shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
