"""Child processes of the benchmark: the fake upstream, the contenders under gunicorn, `flask worker`s."""

import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TOKEN = "bench-token"
LOGIN, SECRET = "bench", "bench-secret"
CONTENDERS = {
    "unsub-relay": ("procfile", "/hooks/justclick?token=" + TOKEN),
    "naive forwarder": ("bench.naive_forwarder:app", "/hook"),
    "pooled forwarder": ("bench.pooled_forwarder:app", "/hook"),
    "bare Flask": ("bench.bare:app", "/hook"),
}
PG_ADMIN = os.environ.get("BENCH_DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/postgres")
# Worker recycling (gunicorn.conf.py's max_requests) is off for every contender: a recycled worker
# imports its app again, and that second of CPU would land in whichever round it happened to hit.
NO_RECYCLING = "--max-requests 0"


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def web_line(root=ROOT):
    """The Procfile's web command, so the service runs exactly as deployed."""
    with open(os.path.join(root, "Procfile")) as f:
        lines = dict(line.split(":", 1) for line in f.read().splitlines() if line.strip())
    return lines["web"].strip()


class Procs:
    """Child processes, all stopped at the end whatever happens."""

    def __init__(self, tmp):
        self.tmp, self.children = tmp, []

    def start(self, args, env, name, root=ROOT, python=sys.executable):
        """Start `args` in the checkout `root` with `python`'s scripts (gunicorn, flask) first on PATH."""
        bindir = os.path.dirname(python)
        full = {**os.environ, **env, "PATH": f"{bindir}:{os.environ['PATH']}", "PYTHONPATH": root}
        with open(os.path.join(self.tmp, f"{name}.log"), "ab") as log:
            proc = subprocess.Popen(args, cwd=root, env=full, stdout=log, stderr=subprocess.STDOUT,
                                    start_new_session=True)
        self.children.append(proc)
        return proc

    def stop(self, *procs):
        """SIGTERM to each process group at once, then wait (SIGKILL after 20 s)."""
        running = [proc for proc in procs if proc.poll() is None]
        for proc in running:
            os.killpg(proc.pid, signal.SIGTERM)
        for proc in running:
            try:
                proc.wait(20)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()

    def stop_all(self):
        self.stop(*self.children)


def wait_http(port, timeout=60, tls=None):
    """Until the port answers HTTP (any status): gunicorn's master listens before its workers can answer.
    `tls`: an ssl client context, for an HTTPS server."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=2) as raw, \
                    (tls.wrap_socket(raw, server_hostname="127.0.0.1") if tls else raw) as sock:
                sock.sendall(b"GET /healthz HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n")
                if sock.recv(12).startswith(b"HTTP/"):
                    return
        except OSError:  # ssl.SSLError is one
            pass
        time.sleep(0.05)
    raise RuntimeError(f"nothing answering HTTP on {port}")


def upstream(procs, latency, counting=False, certs=None):
    """Start bench/upstream.py; with counting, it tallies the addresses it was sent (GET /stats);
    with `certs` (bench/tls.py), it serves HTTPS."""
    port = free_port()
    args = [sys.executable, "bench/upstream.py", str(port), str(latency), SECRET]
    args += ["count"] if counting else []
    args += ["--tls", certs.cert, certs.key] if certs else []
    procs.start(args, {}, f"up-{latency}-{port}")
    wait_http(port, tls=certs.client_context() if certs else None)
    return port


def service_env(up_port, db_url, port, split=(2, 16), certs=None):
    """The environment of a contender; with `certs`, the upstream is HTTPS and the throwaway CA trusted."""
    scheme = "https" if certs else "http"
    return {"JUSTCLICK_LOGIN": LOGIN, "JUSTCLICK_SECRET": SECRET, "JUSTCLICK_GROUP": "Main",
            "JUSTCLICK_API_URL": f"{scheme}://127.0.0.1:{up_port}/{{login}}/api/", "WEBHOOK_TOKENS": TOKEN,
            **(certs.client_env() if certs else {}),
            "DATABASE_URL": db_url, "PORT": str(port), "WEB_CONCURRENCY": str(split[0]),
            "GUNICORN_THREADS": str(split[1]), "GUNICORN_CMD_ARGS": NO_RECYCLING,
            # The benchmark measures the service, not its guards against vendors and callers: no delivery
            # rate (10/s by default) and a credential limit no load reaches.
            "JUSTCLICK_MAX_RATE": "0", "MAILKIT_MAX_RATE": "0", "HOOK_RATE_LIMIT": "100000000 per minute"}


def start_contenders(procs, names, up_port, db_url, split=(2, 16), certs=None, wait=True):
    """{name: (process, port, path)}: the service as the Procfile runs it, bench apps under
    gunicorn.conf.py; started together, then waited for (unless not `wait`: the caller waits)."""
    running = {}
    for name in names:
        target, path = CONTENDERS[name]
        port = free_port()
        env = service_env(up_port, db_url, port, split, certs)
        cmd = web_line() if target == "procfile" else f"gunicorn {target} -c gunicorn.conf.py"
        log = f"{name.replace(' ', '-')}-{port}"
        running[name] = procs.start(["bash", "-c", f"exec {cmd}"], env, log), port, path
    for _, port, _ in running.values() if wait else ():
        wait_http(port)
    return running


def migrate(db_url, root=ROOT, python=sys.executable):
    env = {**os.environ, "DATABASE_URL": db_url, "FLASK_APP": "app", "PYTHONPATH": root}
    subprocess.run([python, "-m", "flask", "db", "upgrade"], cwd=root, env=env, check=True,
                   capture_output=True)


def sqlite_db(tmp, name):
    """A migrated SQLite ledger: `flask db upgrade` once (a second of imports), copies after that."""
    template = os.path.join(tmp, "migrated.sqlite3")
    if not os.path.exists(template):
        migrate(f"sqlite:///{template}")
    path = os.path.join(tmp, f"{name}.sqlite3")
    shutil.copyfile(template, path)
    return f"sqlite:///{path}"


def peak_rss_mb(pid):
    """Peak resident memory (VmHWM) of a process, in MB."""
    try:
        with open(f"/proc/{pid}/status") as f:
            return int(re.search(r"VmHWM:\s+(\d+) kB", f.read()).group(1)) / 1024
    except (OSError, AttributeError):
        return 0.0


def pg_database():
    """(url of a fresh PostgreSQL database on BENCH_DATABASE_URL's server, drop())."""
    import uuid

    import psycopg

    admin = psycopg.connect(PG_ADMIN, autocommit=True, connect_timeout=3)
    name = f"unsub_bench_{uuid.uuid4().hex[:8]}"
    admin.execute(f'CREATE DATABASE "{name}"')

    def drop():
        admin.execute(f'DROP DATABASE "{name}" WITH (FORCE)')
        admin.close()
    return f"{PG_ADMIN.rsplit('/', 1)[0]}/{name}", drop
