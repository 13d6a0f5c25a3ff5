"""Before and after in one run: unsub-relay from another checkout against this one, rounds alternating.

    git worktree add /tmp/before <commit>
    python -m venv /tmp/before/.venv && /tmp/before/.venv/bin/pip install -r /tmp/before/requirements.txt
    python bench/ab.py /tmp/before                    # SQLite, plain HTTP upstream, 5 rounds of 2,000
    python bench/ab.py /tmp/before --https --postgres  # HTTPS upstream, both trees on PostgreSQL too

Each tree runs as its own Procfile says (2 gevent workers), with its own interpreter (OTHER/.venv unless
--python), against one fast upstream shared by all; the pooled forwarder runs beside them as the yardstick
the issues quote. Every round runs every contender once, in a rotating order, and each figure is the median
(min-max) over the rounds; the ratios pair each round's contenders, so the machine's drift cancels.
On PostgreSQL, the backends' CPU is counted into the service's (bench/pgpath.Backends).
"""

import argparse
import os
import sys
import tempfile
from contextlib import ExitStack

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from bench import contest, pgpath, report, tls  # noqa: E402
from bench.load import drive  # noqa: E402
from bench.procs import (ROOT, Procs, free_port, migrate, service_env, start_contenders,  # noqa: E402
                         upstream, wait_http, web_line)

POOLED = "pooled forwarder"


def parse_args(argv):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("other", help="the other checkout (the 'before')")
    parser.add_argument("--python", help="the other checkout's interpreter (default OTHER/.venv/bin/python)")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--https", action="store_true", help="an HTTPS upstream (throwaway CA)")
    parser.add_argument("--postgres", action="store_true", help="both trees on PostgreSQL as well")
    args = parser.parse_args(argv)
    args.other = os.path.abspath(args.other)
    args.python = args.python or os.path.join(args.other, ".venv", "bin", "python")
    return args


def _relay(procs, stack, tmp, tree, python, name, db, up, certs):
    """Start one tree's web process as its Procfile runs it: (process, port, path, Backends or None)."""
    backends = None
    if db == "postgres":
        url, database = stack.enter_context(pgpath.throwaway_database())
        backends = pgpath.Backends(database)
        stack.callback(backends.close)
    else:
        url = f"sqlite:///{os.path.join(tmp, name.replace(' ', '-'))}.sqlite3"
        migrate(url, root=tree, python=python)
    port = free_port()
    env = service_env(up, url, port, certs=certs)
    proc = procs.start(["bash", "-c", f"exec {web_line(tree)}"], env, f"relay-{port}", root=tree,
                       python=python)
    return proc, port, "/hooks/justclick?token=bench-token", backends


def contend(args, procs, tmp):
    """{contender: [round results]}: both trees (on each database asked for) and the pooled forwarder."""
    certs = tls.make_certs(os.path.join(tmp, "tls")) if args.https else None
    databases = ("sqlite", "postgres") if args.postgres else ("sqlite",)
    trees = {"before": (args.other, args.python), "after": (ROOT, sys.executable)}
    with ExitStack() as stack:
        up = upstream(procs, 0.0, certs=certs)
        running = {f"{which} ({db})": _relay(procs, stack, tmp, tree, python, f"{which}-{db}", db, up, certs)
                   for db in databases for which, (tree, python) in trees.items()}
        pooled = start_contenders(procs, [POOLED], up, "sqlite://", certs=certs, wait=False)[POOLED]
        running[POOLED] = (*pooled, None)
        stack.callback(procs.stop, *(entry[0] for entry in running.values()))
        for _, port, _, _ in running.values():
            wait_http(port)
        for _, port, path, _ in running.values():  # warm-up: imports, pools, connections
            drive(port, path, max(args.requests // 4, 50), args.connections, max_seconds=10)
        runs = {name: [] for name in running}
        names = list(running)
        for r in range(args.rounds):
            for name in contest.rotated(names, r):
                proc, port, path, backends = running[name]
                runs[name].append(contest.measured_round(proc.pid, port, path, args.requests,
                                                         args.connections, backends))
    return runs


def table(runs):
    """Markdown: throughput and CPU per webhook of each contender, after/before and against the pooled one."""
    lines = ["| contender | webhooks/s | CPU µs/webhook | of which PostgreSQL | CPU vs before (same db) "
             "| CPU vs pooled | errors |", "|---|---:|---:|---:|---:|---:|---:|"]
    for name, rounds in runs.items():
        db = name[name.find("("):] if "(" in name else ""
        before = f"before {db}"
        versus = report.ratio(runs, name, before, "cpu_us") if name.startswith("after") else "-"
        pg = report.figure(r["pg_cpu_us"] for r in rounds) if "postgres" in name else "-"
        lines.append(f"| {name} | {report.figure(r['rps'] for r in rounds)} "
                     f"| {report.figure(r['cpu_us'] for r in rounds)} | {pg} | {versus} "
                     f"| {report.ratio(runs, name, POOLED, 'cpu_us')} | {sum(r['errors'] for r in rounds)} |")
    return lines


def main(argv=None):
    args = parse_args(argv)
    tmp = tempfile.mkdtemp(prefix="unsub-ab-")
    procs = Procs(tmp)
    try:
        runs = contend(args, procs, tmp)
    finally:
        procs.stop_all()
    scheme = "HTTPS" if args.https else "plain HTTP"
    print(f"before: {args.other}; after: {ROOT}; {scheme} upstream; {args.rounds} rounds of {args.requests} "
          f"webhooks, {args.connections} connections; {report.machine()}; CPU: the server tree"
          f"{' and its PostgreSQL backends' if args.postgres else ''}, per webhook answered\n")
    print("\n".join(table(runs)))


if __name__ == "__main__":
    main()
