"""Slow clients against normal webhooks: does a crowd of tricklers starve the service?

    python bench/slow_clients.py                      # 200 slow connections for 60 s, this checkout
    python bench/slow_clients.py --root /tmp/before   # the same against another checkout (e.g. the
                                                      # gthread one: git archive OLD | tar -x -C /tmp/before)
    python bench/slow_clients.py --database-url postgresql://postgres@127.0.0.1:5432/bench

Everything runs on 127.0.0.1: the fast fake JustClick (bench/upstream.py), the Procfile's web line with
two workers, `--slow` connections that send a webhook one byte a second (half trickle their headers,
half their body, and reconnect whenever the server cuts them off), and `--senders` threads posting normal
webhooks, each a new address, `--interval` apart. Prints p50/p99/max of the normal ones, their errors,
what the slow ones were answered, and the resident memory (RSS) of each web worker at the end.
"""

import argparse
import json
import os
import shlex
import socket
import statistics
import sys
import tempfile
import threading
import time
import uuid

import requests

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)
from bench.cpu import children  # noqa: E402
from bench.procs import TOKEN, Procs, free_port, migrate, service_env, upstream, wait_http  # noqa: E402


def whole(sock, start, timeout=5.0):
    """The whole answer whose first bytes `start` one recv() gave: the server may write its headers and its
    body in two sends, so read on until Content-Length is met or the server hangs up."""
    sock.settimeout(timeout)
    answer = start
    try:
        while True:
            head, found, body = answer.partition(b"\r\n\r\n")
            length = next((int(line.split(b":", 1)[1]) for line in head.split(b"\r\n")[1:]
                           if line.lower().startswith(b"content-length:")), None) if found else None
            if length is not None and len(body) >= length:
                return answer
            more = sock.recv(65536)
            if not more:
                return answer
            answer += more
    except OSError:  # a timeout or a reset: what came is the answer
        return answer


class Trickler:
    """Sockets that send a request a byte at a time, hang on before the last, and reconnect when cut."""

    def __init__(self, port, requests_to_trickle, every=1.0):
        """`requests_to_trickle`: (bytes sent at once on connecting, bytes then sent one at a time)."""
        self.port, self.every, self.stop = port, every, threading.Event()
        self.slots = [[(at_once, slowly), None, 0] for at_once, slowly in requests_to_trickle]
        self.answers, self.connections = [], 0
        self.thread = threading.Thread(target=self.run, daemon=True)

    def run(self):
        while not self.stop.wait(self.every):
            for slot in self.slots:
                self.step(slot)
        for _, sock, _ in self.slots:
            if sock:
                sock.close()

    def step(self, slot):
        (at_once, raw), sock, sent = slot
        try:
            if sock is None:
                sock, sent = socket.create_connection(("127.0.0.1", self.port), timeout=5), 0
                self.connections += 1
                sock.sendall(at_once)
                sock.setblocking(False)
            answer = sock.recv(4096)  # the server answered or hung up: start again
        except BlockingIOError:
            answer = None
        except OSError:
            answer = b""
        if answer is None:
            try:
                sock.send(raw[sent:sent + 1])
                slot[1:] = [sock, min(sent + 1, len(raw) - 1)]  # never the last byte: hang on
                return
            except OSError:
                answer = b""
        self.answers.append(whole(sock, answer) if answer else answer)
        if sock is not None:
            sock.close()
        slot[1:] = [None, 0]

    def answered(self):
        """How the slow connections ended, by status line (`hung up` when the server sent nothing)."""
        counts = {}
        for answer in self.answers:
            status = answer.split(b"\r\n", 1)[0].decode("latin-1") or "hung up"
            counts[status] = counts.get(status, 0) + 1
        return counts


def slow_requests(count, port, path, pad=0):
    """Half trickle their headers, half their body: valid webhooks that must never be sent."""
    raws = []
    for n in range(count):
        body = json.dumps({"email": f"slow{n}@example.com", "pad": " " * pad}).encode()
        head = (f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nContent-Type: application/json\r\n"
                f"Content-Length: {len(body)}\r\nX-Pad: {'p' * pad}\r\n\r\n").encode()
        raws.append((head[:16], head[16:] + body) if n % 2 else (head, body))
    return raws


def send_normal(port, path, seconds, senders, interval):
    """Latencies (s) of normal webhooks sent for `seconds`, and how many were not answered 2xx."""
    latencies, errors, lock = [], [0], threading.Lock()
    deadline, prefix = time.monotonic() + seconds, uuid.uuid4().hex[:8]

    def sender(n):
        session, count = requests.Session(), 0
        while time.monotonic() < deadline:
            count += 1
            started = time.monotonic()
            try:
                email = f"{prefix}-{n}-{count}@example.com"
                ok = session.post(f"http://127.0.0.1:{port}{path}", json={"email": email}, timeout=30).ok
            except requests.RequestException:
                ok, session = False, requests.Session()
            with lock:
                latencies.append(time.monotonic() - started)
                errors[0] += not ok
            time.sleep(interval)

    threads = [threading.Thread(target=sender, args=(n,)) for n in range(senders)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return sorted(latencies), errors[0]


def rss_mb(pid):
    with open(f"/proc/{pid}/status") as f:
        fields = dict(line.split(":", 1) for line in f)
    return int(fields["VmRSS"].split()[0]) / 1024


def start_web(procs, root, env, name):
    """The Procfile's web line of the checkout at `root`, run from there."""
    with open(os.path.join(root, "Procfile")) as f:
        line = dict(entry.split(":", 1) for entry in f.read().splitlines() if entry.strip())["web"].strip()
    return procs.start(["bash", "-c", f"cd {shlex.quote(root)} && PYTHONPATH=. exec {line}"], env, name)


def measure(args, procs, tmp):
    up = upstream(procs, 0.0)
    db = args.database_url or f"sqlite:///{tmp}/slow.sqlite3"
    migrate(db)
    port = free_port()
    web = start_web(procs, os.path.abspath(args.root), service_env(up, db, port), "web")
    wait_http(port)
    path = f"/hooks/justclick?token={TOKEN}"
    send_normal(port, path, 2, 2, 0.05)  # warm-up: imports, pools, first connections
    trickler = Trickler(port, slow_requests(args.slow, port, path, pad=args.seconds * 2))
    trickler.thread.start()
    time.sleep(min(5.0, args.seconds / 4))  # let every slow connection get in and hold on
    latencies, errors = send_normal(port, path, args.seconds, args.senders, args.interval)
    workers = {pid: rss_mb(pid) for pid in children(web.pid)}
    trickler.stop.set()
    trickler.thread.join(10)
    return latencies, errors, trickler, workers


def report(latencies, errors, trickler, workers):
    def pct(q):
        return latencies[min(len(latencies) - 1, int(len(latencies) * q))] * 1000

    print(f"normal webhooks: {len(latencies)} sent, {errors} not answered 2xx")
    print(f"latency ms: p50 {statistics.median(latencies) * 1000:.1f}  p99 {pct(0.99):.1f}  "
          f"max {latencies[-1] * 1000:.1f}")
    print(f"slow connections opened: {trickler.connections}; how they ended: {trickler.answered()}")
    print("web worker RSS MB: " + ", ".join(f"{mb:.0f}" for mb in workers.values()))


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--root", default=ROOT, help="checkout whose Procfile web line to run")
    parser.add_argument("--slow", type=int, default=200, help="slow connections")
    parser.add_argument("--seconds", type=int, default=60)
    parser.add_argument("--senders", type=int, default=4, help="threads sending normal webhooks")
    parser.add_argument("--interval", type=float, default=0.2, help="pause between one sender's webhooks")
    parser.add_argument("--database-url", help="default: a fresh SQLite file")
    args = parser.parse_args(argv)
    tmp = tempfile.mkdtemp(prefix="unsub-slow-")
    procs = Procs(tmp)
    try:
        report(*measure(args, procs, tmp))
    finally:
        procs.stop_all()


if __name__ == "__main__":
    main()
