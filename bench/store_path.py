"""CPU of the ledger's hot path, A against B: one webhook's accept and record, in process.

    .venv/bin/python bench/store_path.py [--rounds 5] [--n 2000] [--postgres URL] [--processes 1] TREE_A TREE_B

Each TREE is a copy of this project (e.g. `git archive HEAD | tar -x -C /tmp/a`). Every round runs one fresh
child process per tree, A then B then A..., so both see the same machine load; a child imports the store of
its tree only. A child accepts a new address (dedup look-up, gate, insert) and records its result (attempt,
gate, guarded update) `n` times after a warm-up, and reports its CPU per webhook in µs (process time). With
`--processes P --greenlets G` P children of the same tree run at once on one database, each as a gevent web
worker does (monkey-patched, G greenlets taking the webhooks in turn): the group-commit and file-lock
contention case; their CPU and the wall time of the slowest are reported.
"""

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
import uuid
from types import SimpleNamespace

WARMUP = 200


def settings(url):
    """The few settings the Store reads."""
    return SimpleNamespace(database_url=url, retry_base_seconds=30.0, retry_max_age_seconds=48 * 3600.0,
                           upstream_timeout=10.0, breaker_failures=5, max_rates={}, sandbox=False,
                           dedup_window_seconds=600.0, rate_wait_seconds=0.0, confirm_after_seconds=60.0,
                           confirm_resends=2)


def result(destination, started_at=None):
    """A vendor's success, shaped as schemas.shapes.Outcome (what the ledger reads of it)."""
    return SimpleNamespace(destination=destination, status="unsubscribed", code="0", message="OK", error=None,
                           ok=True, transient=False, error_kind=None, started_at=started_at, duration_ms=1)


def child(url, n, upgrade, greenlets=0):
    """Run in the tree on sys.path[0]: µs of CPU per accept + record, and the wall seconds."""
    if greenlets:
        from gevent import monkey
        monkey.patch_all()
    import store
    try:  # a tree from before the ledger took Deliveries (issue 19): its own row classes
        from store.ledger import Planned, Sent
    except ImportError:
        Planned = Sent = None

    db = store.Store(settings(url))
    if upgrade:
        db.upgrade()
    run = uuid.uuid4().hex[:8]

    def one(i):
        target = f"p{run}-{i}@example.com"
        owner = uuid.uuid4().hex
        payload = {"lead_email": target, "rass_name": "Main"}
        if Planned is not None:
            plan = Planned(0, "justclick", target, "Main", None, {}, payload)
            _, placed = db.ledger.accept([plan], lease_owner=owner)
            db.ledger.record([Sent(placed[0], result("justclick"), db.now(), 1, "web")], owner)
            return
        from schemas.shapes import Delivery
        _, placed = db.ledger.accept([Delivery("justclick", target, payload, "Main")], lease_owner=owner)
        db.ledger.record([(placed[0], result("justclick", db.now()))], owner, "web")

    def share(first):
        for i in range(first, n, max(greenlets, 1)):
            one(i)

    for i in range(WARMUP):
        one(-i - 1)
    cpu, wall = time.process_time(), time.perf_counter()
    if greenlets:
        import gevent
        gevent.joinall([gevent.spawn(share, g) for g in range(greenlets)], raise_error=True)
    else:
        share(0)
    cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
    db.close()
    return {"us": cpu / n * 1e6, "wall": wall}


def spawn(tree, url, n, upgrade, greenlets=0):
    # This file is run by path in the child: the tree on sys.path is the one measured, whatever its bench/.
    code = ("import json, runpy, sys; sys.path.insert(0, sys.argv[1]); "
            "child = runpy.run_path(sys.argv[2])['child']; "
            "print(json.dumps(child(sys.argv[3], int(sys.argv[4]), sys.argv[5] == '1', int(sys.argv[6]))))")
    return subprocess.Popen([sys.executable, "-c", code, tree, os.path.abspath(__file__), url, str(n),
                             "1" if upgrade else "0", str(greenlets)],
                            stdout=subprocess.PIPE, cwd=tree, text=True)


def round_of(tree, url, n, processes, greenlets):
    """[µs per webhook of each child], wall seconds of the slowest."""
    first = spawn(tree, url, 10, True)  # migrate once, alone
    first.communicate()
    children = [spawn(tree, url, n, False, greenlets) for _ in range(processes)]
    figures = [json.loads(c.communicate()[0]) for c in children]
    return [f["us"] for f in figures], max(f["wall"] for f in figures)


def database(postgres, label):
    """A fresh database URL per tree and round."""
    if not postgres:
        return f"sqlite:///{tempfile.mkdtemp(prefix='store_path_')}/{label}.db"
    import psycopg
    name = f"store_path_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(postgres.replace("+psycopg", ""), autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    return postgres.rsplit("/", 1)[0] + "/" + name


def drop(postgres, urls):
    """Drop the throwaway PostgreSQL databases of this run."""
    import psycopg
    with psycopg.connect(postgres.replace("+psycopg", ""), autocommit=True) as conn:
        for url in urls:
            conn.execute(f'DROP DATABASE IF EXISTS "{url.rsplit("/", 1)[1]}"')


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("trees", nargs="+")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--n", type=int, default=2000)
    parser.add_argument("--processes", type=int, default=1)
    parser.add_argument("--greenlets", type=int, default=0, help="per process, under gevent (0: no gevent)")
    parser.add_argument("--postgres", help="a PostgreSQL URL (postgresql+psycopg://...): run there, not SQLite")
    args = parser.parse_args()
    seen, urls = {tree: {"us": [], "wall": []} for tree in args.trees}, []
    for number in range(args.rounds):
        for tree in args.trees:
            url = database(args.postgres, f"{number}_{os.path.basename(tree.rstrip('/'))}")
            urls.append(url)
            us, wall = round_of(tree, url, args.n, args.processes, args.greenlets)
            seen[tree]["us"] += us
            seen[tree]["wall"].append(wall)
            print(f"round {number + 1} {tree}: {' '.join(f'{u:.0f}' for u in us)} µs/webhook, "
                  f"{wall:.2f} s wall", flush=True)
    if args.postgres:
        drop(args.postgres, urls)
    for tree, figures in seen.items():
        us, wall = figures["us"], figures["wall"]
        print(f"{tree}: CPU per webhook min {min(us):.0f} max {max(us):.0f} µs; "
              f"wall for {args.processes}x{args.n} min {min(wall):.2f} max {max(wall):.2f} s")


if __name__ == "__main__":
    main()
