"""Load: wrk when installed, else a small Python generator (keep-alive connections, one per thread).

Either way every request unsubscribes a new address, and a run ends after a fixed number of answers
(or at its time cap), so CPU per request is taken over the same work for every contender.
"""

import http.client
import math
import os
import re
import shutil
import signal
import statistics
import subprocess
import tempfile
import threading
import time
import uuid

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
WRK_THREADS = 2


def drive(port, path, requests, connections, max_seconds):
    """{rps, p50_ms, p99_ms, errors, requests, answered} over about `requests` requests (or max_seconds)."""
    prefix = uuid.uuid4().hex[:10]
    if not shutil.which("wrk"):
        return run("127.0.0.1", port, path, connections, max_seconds, prefix, requests)
    threads = min(WRK_THREADS, connections)  # wrk wants at least one connection per thread
    per_thread = math.ceil(requests / threads)
    with tempfile.TemporaryDirectory(prefix="unsub-wrk-") as tmp:
        done = os.path.join(tmp, "done")
        command = ["wrk", f"-t{threads}", f"-c{connections}", f"-d{max(int(max_seconds), 1)}s",
                   "--timeout", "10s", "--latency", "-s", "bench/unsub.lua", f"http://127.0.0.1:{port}{path}"]
        wrk = subprocess.Popen(command, cwd=ROOT, stdout=subprocess.PIPE, text=True,
                               env={**os.environ, "BENCH_PREFIX": prefix, "BENCH_PER_THREAD": str(per_thread),
                                    "BENCH_DONE": done})
        out = _stop_when_done(wrk, done)
    return parse_wrk(out)


def _stop_when_done(wrk, done):
    """wrk's report, after SIGINT once the marker file appears (wrk checks for a stop every 100 ms)."""
    while wrk.poll() is None and not os.path.exists(done):
        time.sleep(0.01)
    while wrk.poll() is None:
        wrk.send_signal(signal.SIGINT)
        try:
            wrk.wait(0.5)
        except subprocess.TimeoutExpired:
            continue  # not stopped yet: signal again
    out = wrk.stdout.read()
    wrk.stdout.close()
    if wrk.returncode != 0:
        raise RuntimeError(f"wrk failed ({wrk.returncode}): {out[-500:]}")
    return out


def _ms(text):
    value, unit = re.match(r"([\d.]+)(us|ms|s)", text).groups()
    return float(value) * {"us": 0.001, "ms": 1.0, "s": 1000.0}[unit]


def parse_wrk(out):
    """The figures of one wrk --latency report; `answered` counts 2xx/3xx answers only."""
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    p50 = _ms(re.search(r"\s50%\s+(\S+)", out).group(1))
    p99 = _ms(re.search(r"\s99%\s+(\S+)", out).group(1))
    bad = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", out)
    sock = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out)
    non_2xx = int(bad.group(1)) if bad else 0
    errors = non_2xx + (sum(map(int, sock.groups())) if sock else 0)
    total = int(re.search(r"(\d+) requests in", out).group(1))
    return {"rps": rps, "p50_ms": p50, "p99_ms": p99, "errors": errors, "requests": total,
            "answered": total - non_2xx}


def _client(host, port, path, label, count_limit, deadline):
    """One keep-alive client: [latency seconds] and the number of failed requests."""
    conn = http.client.HTTPConnection(host, port, timeout=30)
    latencies, failed, count = [], 0, 0
    while time.monotonic() < deadline and count < count_limit:
        count += 1
        body = f"email={label}-{count}%40example.com"
        started = time.monotonic()
        try:
            conn.request("POST", path, body, {"Content-Type": "application/x-www-form-urlencoded"})
            response = conn.getresponse()
            response.read()
            failed += not 200 <= response.status < 400
        except (OSError, http.client.HTTPException):
            conn.close()
            conn = http.client.HTTPConnection(host, port, timeout=30)
            failed += 1
        latencies.append(time.monotonic() - started)
    conn.close()
    return latencies, failed


def run(url_host, url_port, path, connections, seconds, prefix=None, limit=None):
    """{rps, p50_ms, p99_ms, errors, requests, answered}: `connections` keep-alive clients posting
    distinct addresses for `seconds`, or until `limit` requests were answered."""
    prefix = prefix or uuid.uuid4().hex[:8]
    deadline = time.monotonic() + seconds
    per_client = math.ceil(limit / connections) if limit else math.inf
    results = [None] * connections

    def client(n):
        results[n] = _client(url_host, url_port, path, f"{prefix}-{n}", per_client, deadline)

    threads = [threading.Thread(target=client, args=(n,)) for n in range(connections)]
    started = time.monotonic()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    elapsed = time.monotonic() - started
    latencies = sorted(seconds for mine, _ in results for seconds in mine)
    errors = sum(failed for _, failed in results)
    return {"rps": len(latencies) / elapsed,
            "p50_ms": statistics.median(latencies) * 1000 if latencies else 0,
            "p99_ms": latencies[int(len(latencies) * 0.99) - 1] * 1000 if latencies else 0,
            "errors": errors, "requests": len(latencies), "answered": len(latencies) - errors}
