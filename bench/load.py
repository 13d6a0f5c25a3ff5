"""A small Python load generator, used where wrk is not installed: keep-alive connections, one per thread."""

import http.client
import statistics
import threading
import time
import uuid


def run(url_host, url_port, path, connections, seconds, prefix=None):
    """{rps, p50_ms, p99_ms, errors} for `connections` keep-alive clients posting distinct addresses."""
    prefix = prefix or uuid.uuid4().hex[:8]
    latencies, errors = [], [0]
    lock = threading.Lock()
    deadline = time.monotonic() + seconds

    def client(n):
        conn = http.client.HTTPConnection(url_host, url_port, timeout=30)
        mine, count = [], 0
        while time.monotonic() < deadline:
            count += 1
            body = f"email={prefix}-{n}-{count}%40example.com"
            started = time.monotonic()
            try:
                conn.request("POST", path, body, {"Content-Type": "application/x-www-form-urlencoded"})
                response = conn.getresponse()
                response.read()
                ok = 200 <= response.status < 300
            except (OSError, http.client.HTTPException):
                conn.close()
                conn = http.client.HTTPConnection(url_host, url_port, timeout=30)
                ok = False
            mine.append(time.monotonic() - started)
            if not ok:
                with lock:
                    errors[0] += 1
        with lock:
            latencies.extend(mine)
        conn.close()

    threads = [threading.Thread(target=client, args=(n,)) for n in range(connections)]
    started = time.monotonic()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    elapsed = time.monotonic() - started
    latencies.sort()
    return {"rps": len(latencies) / elapsed, "p50_ms": statistics.median(latencies) * 1000 if latencies else 0,
            "p99_ms": latencies[int(len(latencies) * 0.99) - 1] * 1000 if latencies else 0,
            "errors": errors[0], "requests": len(latencies)}
