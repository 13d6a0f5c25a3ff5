"""The benchmark: unsub-relay against the naive forwarder, the pooled forwarder and a bare endpoint.

    python bench/run.py            # full run (about two minutes), writes bench/RESULTS.md
    python bench/run.py --smoke    # smallest setting, a few seconds, for CI

Everything runs on 127.0.0.1 under the same gunicorn settings (gunicorn.conf.py). Contenders alternate
within each round; the report gives medians over rounds and ratios.
"""

import argparse
import http.client
import json
import os
import platform
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import uuid

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)
from bench import load  # noqa: E402

TOKEN = "bench-token"
LOGIN, SECRET = "bench", "bench-secret"
CONTENDERS = {
    "unsub-relay": ("procfile", "/hooks/justclick?token=" + TOKEN),
    "naive forwarder": ("bench.naive_forwarder:app", "/hook"),
    "pooled forwarder": ("bench.pooled_forwarder:app", "/hook"),
    "bare Flask": ("bench.bare:app", "/hook"),
}


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def web_line():
    with open(os.path.join(ROOT, "Procfile")) as f:
        lines = dict(line.split(":", 1) for line in f.read().splitlines() if line.strip())
    return lines["web"].strip()


class Procs:
    """Child processes, all stopped at the end whatever happens."""

    def __init__(self, tmp):
        self.tmp, self.children = tmp, []

    def start(self, args, env, name):
        bindir = os.path.dirname(sys.executable)
        full = {**os.environ, **env, "PATH": f"{bindir}:{os.environ['PATH']}", "PYTHONPATH": ROOT}
        with open(os.path.join(self.tmp, f"{name}.log"), "ab") as log:
            proc = subprocess.Popen(args, cwd=ROOT, env=full, stdout=log, stderr=subprocess.STDOUT,
                                    start_new_session=True)
        self.children.append(proc)
        return proc

    def stop(self, proc):
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGTERM)
            try:
                proc.wait(20)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()

    def stop_all(self):
        for proc in self.children:
            self.stop(proc)


def wait_http(port, timeout=60):
    """Until the port answers HTTP (any status): gunicorn's master listens before its workers can answer."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
            conn.request("GET", "/healthz")
            conn.getresponse().read()
            conn.close()
            return
        except (OSError, http.client.HTTPException):
            time.sleep(0.05)
    raise RuntimeError(f"nothing answering HTTP on {port}")


def upstream(procs, latency):
    port = free_port()
    procs.start([sys.executable, "bench/upstream.py", str(port), str(latency), SECRET], {}, f"up-{latency}")
    wait_http(port)
    return port


def service_env(up_port, db_url, port):
    return {"JUSTCLICK_LOGIN": LOGIN, "JUSTCLICK_SECRET": SECRET, "JUSTCLICK_GROUP": "Main",
            "JUSTCLICK_API_URL": f"http://127.0.0.1:{up_port}/{{login}}/api/", "WEBHOOK_TOKENS": TOKEN,
            "DATABASE_URL": db_url, "PORT": str(port), "WEB_CONCURRENCY": "2"}


def start_contender(procs, name, up_port, db_url):
    target, path = CONTENDERS[name]
    port = free_port()
    env = service_env(up_port, db_url, port)
    cmd = web_line() if target == "procfile" else f"gunicorn {target} -c gunicorn.conf.py"
    proc = procs.start(["bash", "-c", f"exec {cmd}"], env, name.replace(" ", "-"))
    wait_http(port)
    return proc, port, path


def drive(port, path, seconds, connections):
    """One load run: wrk when installed, else the Python generator."""
    prefix = uuid.uuid4().hex[:10]
    if shutil.which("wrk"):
        out = subprocess.run(
            ["wrk", "-t2", f"-c{connections}", f"-d{seconds}s", "--latency", "-s", "bench/unsub.lua",
             f"http://127.0.0.1:{port}{path}"], cwd=ROOT, capture_output=True, text=True,
            env={**os.environ, "BENCH_PREFIX": prefix}, check=True).stdout
        return parse_wrk(out)
    return load.run("127.0.0.1", port, path, connections, seconds, prefix)


def _ms(text):
    value, unit = re.match(r"([\d.]+)(us|ms|s)", text).groups()
    return float(value) * {"us": 0.001, "ms": 1.0, "s": 1000.0}[unit]


def parse_wrk(out):
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    p50 = _ms(re.search(r"\s50%\s+(\S+)", out).group(1))
    p99 = _ms(re.search(r"\s99%\s+(\S+)", out).group(1))
    bad = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", out)
    sock = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out)
    errors = (int(bad.group(1)) if bad else 0) + (sum(map(int, sock.groups())) if sock else 0)
    total = int(re.search(r"(\d+) requests in", out).group(1))
    return {"rps": rps, "p50_ms": p50, "p99_ms": p99, "errors": errors, "requests": total}


def peak_rss_mb(pid):
    """Peak resident memory (VmHWM) of a process, in MB."""
    try:
        with open(f"/proc/{pid}/status") as f:
            return int(re.search(r"VmHWM:\s+(\d+) kB", f.read()).group(1)) / 1024
    except (OSError, AttributeError):
        return 0.0


def children(pid):
    try:
        with open(f"/proc/{pid}/task/{pid}/children") as f:
            return [int(p) for p in f.read().split()]
    except OSError:
        return []


def scenario_fast(procs, tmp, rounds, seconds, connections):
    """All four contenders against a fast upstream, alternating order each round."""
    up = upstream(procs, 0.0)
    db = f"sqlite:///{tmp}/fast.sqlite3"
    migrate(db)
    running = {name: start_contender(procs, name, up, db) for name in CONTENDERS}
    runs = {name: [] for name in CONTENDERS}
    names = list(CONTENDERS)
    for warm in names:  # one short warm-up each: imports, pools, first connections
        drive(running[warm][1], running[warm][2], 1, connections)
    for r in range(rounds):
        order = names[r % len(names):] + names[:r % len(names)]
        for name in order:
            runs[name].append(drive(running[name][1], running[name][2], seconds, connections))
    memory = max(peak_rss_mb(pid) for pid in children(running["unsub-relay"][0].pid))
    for proc, _, _ in running.values():
        procs.stop(proc)
    return runs, memory


def scenario_slow(procs, tmp, seconds, connections, latency=0.1):
    """unsub-relay alone against an upstream that takes 100 ms."""
    up = upstream(procs, latency)
    db = f"sqlite:///{tmp}/slow.sqlite3"
    migrate(db)
    proc, port, path = start_contender(procs, "unsub-relay", up, db)
    drive(port, path, 1, connections)
    result = drive(port, path, seconds, connections)
    procs.stop(proc)
    return result


def migrate(db_url):
    env = {**os.environ, "DATABASE_URL": db_url, "FLASK_APP": "app"}
    subprocess.run([sys.executable, "-m", "flask", "db", "upgrade"], cwd=ROOT, env=env, check=True,
                   capture_output=True)


def scenario_backlog(procs, tmp, count, latency=0.05):
    """`count` queued unsubscribes drained by one `flask worker` against a slow upstream."""
    up = upstream(procs, latency)
    db = f"sqlite:///{tmp}/backlog.sqlite3"
    migrate(db)
    env = service_env(up, db, 0)
    fill = subprocess.run([sys.executable, "bench/fill.py", str(count)], cwd=ROOT, capture_output=True,
                          text=True, env={**os.environ, **env, "PYTHONPATH": ROOT}, check=True)
    assert json.loads(fill.stdout)["queued"] == count, fill.stdout
    started = time.monotonic()
    worker = procs.start([sys.executable, "-m", "flask", "--app", "app", "worker"],
                         {**env, "WORKER_CONCURRENCY": "16"}, "worker")
    from sqlalchemy import create_engine, text
    engine = create_engine(db)
    while True:
        with engine.connect() as conn:
            left = conn.execute(text("select count(*) from deliveries where status = 'pending'")).scalar()
        if not left or time.monotonic() - started > 120:
            break
        time.sleep(0.05)
    elapsed = time.monotonic() - started
    with engine.connect() as conn:
        done, first, last = conn.execute(text(
            "select count(*), min(completed_at), max(completed_at) from deliveries where status = 'done'")).one()
    engine.dispose()
    rss = peak_rss_mb(worker.pid)
    procs.stop(worker)
    span = (_when(last) - _when(first)).total_seconds() if done > 1 else elapsed
    return {"count": count, "done": done, "seconds": elapsed, "rate": done / elapsed,
            "drain_rate": (done - 1) / span if span > 0 else 0.0, "rss_mb": rss}


def _when(value):
    from datetime import datetime
    return value if isinstance(value, datetime) else datetime.fromisoformat(str(value))


def machine():
    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as f:
            cpu = re.search(r"model name\s*:\s*(.+)", f.read()).group(1)
    except (OSError, AttributeError):
        pass
    return f"{os.cpu_count()} cores, {cpu}, Python {platform.python_version()}, {platform.system()}"


def med(runs, key):
    return statistics.median(r[key] for r in runs)


def report(fast, memory, slow, backlog, settings):
    runs = fast
    naive, pooled = med(runs["naive forwarder"], "rps"), med(runs["pooled forwarder"], "rps")
    lines = [
        "# Benchmark results", "",
        f"Machine: {machine()}. Load: {settings['loader']}, {settings['connections']} connections, "
        f"{settings['rounds']} rounds of {settings['seconds']} s per contender, alternating; every request "
        "a new address. Each contender under gunicorn.conf.py (2 gevent workers).", "",
        "## Fast upstream", "",
        "| contender | median req/s | vs naive | vs pooled | p50 ms | p99 ms | errors |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    for name in CONTENDERS:
        rps = med(runs[name], "rps")
        errors = sum(r["errors"] for r in runs[name])
        lines.append(f"| {name} | {rps:.0f} | {rps / naive:.2f}x | {rps / pooled:.2f}x | "
                     f"{med(runs[name], 'p50_ms'):.1f} | {med(runs[name], 'p99_ms'):.1f} | {errors} |")
    lines += ["", "## Upstream at 100 ms", "",
              "| contender | req/s | p50 ms | p99 ms | errors |", "|---|---:|---:|---:|---:|",
              f"| unsub-relay | {slow['rps']:.0f} | {slow['p50_ms']:.1f} | {slow['p99_ms']:.1f} | {slow['errors']} |",
              "", "## Backlog drained by one worker (upstream at 50 ms)", "",
              "| queued | delivered | seconds (with start-up) | per second (with start-up) | "
              "per second (first to last delivery) |", "|---:|---:|---:|---:|---:|",
              f"| {backlog['count']} | {backlog['done']} | {backlog['seconds']:.2f} | {backlog['rate']:.0f} | "
              f"{backlog['drain_rate']:.0f} |",
              "", "## Peak memory (RSS)", "",
              "| process | MB |", "|---|---:|",
              f"| web worker (largest of the gunicorn workers, after the fast run) | {memory:.0f} |",
              f"| `flask worker` (after the backlog) | {backlog['rss_mb']:.0f} |", ""]
    return "\n".join(lines)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--smoke", action="store_true", help="smallest setting: a few seconds")
    parser.add_argument("--out", default=os.path.join(ROOT, "bench", "RESULTS.md"))
    args = parser.parse_args(argv)
    settings = ({"rounds": 1, "seconds": 1, "connections": 8, "backlog": 50} if args.smoke else
                {"rounds": 5, "seconds": 4, "connections": 32, "backlog": 1000})
    settings["loader"] = "wrk" if shutil.which("wrk") else "bench/load.py"
    tmp = tempfile.mkdtemp(prefix="unsub-bench-")
    procs = Procs(tmp)
    started = time.monotonic()
    try:
        fast, memory = scenario_fast(procs, tmp, settings["rounds"], settings["seconds"], settings["connections"])
        slow = scenario_slow(procs, tmp, settings["seconds"] * 2, 64 if not args.smoke else 8)
        backlog = scenario_backlog(procs, tmp, settings["backlog"])
    finally:
        procs.stop_all()
    text = report(fast, memory, slow, backlog, settings)
    text += f"\nTotal benchmark time: {time.monotonic() - started:.0f} s.\n"
    with open(args.out, "w") as f:
        f.write(text)
    print(text)
    shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
