"""Process helpers for tests that run the service as deployed: start a Procfile line with its log in a file,
wait on a condition with a bound, pick a free port, stop and reap what was started.

Every process started here is remembered in STARTED until it is stopped: conftest.reap_spawned kills what a
test left running when it ends, and an atexit hook what a crashed run left behind, so no gunicorn or worker
outlives its test (it would take rows from the next test's database).
"""

import atexit
import os
import signal
import socket
import subprocess
import sys
import time

import requests

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
STARTED = []


def procfile(root=ROOT):
    """The Procfile's lines by process name (web, worker, release)."""
    with open(os.path.join(root, "Procfile")) as f:
        return {name.strip(): line.strip() for name, line in (row.split(":", 1) for row in f if row.strip())}


def spawn(line, env, log, name=None, cwd=ROOT):
    """Start `line` as the platform does (through a shell, in the project root, the virtualenv first on PATH,
    FLASK_APP=app unless `env` says otherwise). Its output goes to the file `log`, or with a `name` to
    `{name}.log` in the folder `log`. It runs in its own process group, so stopping it stops gunicorn's
    children too."""
    bindir = os.path.dirname(sys.executable)
    full = {**os.environ, "FLASK_APP": "app", **env, "PATH": f"{bindir}:{os.environ['PATH']}"}
    log_path = os.path.join(log, f"{name}.log") if name else log
    with open(log_path, "ab") as out:  # the child keeps its own descriptor
        proc = subprocess.Popen(["bash", "-c", f"exec {line.strip()}"], cwd=cwd, env=full, stdout=out,
                                stderr=subprocess.STDOUT, start_new_session=True)
    STARTED.append(proc)
    return proc


def stop(proc, timeout=20.0):
    """SIGTERM (a clean stop: gunicorn drains, a worker finishes what is in flight), SIGKILL after `timeout`;
    returns the exit code."""
    if proc.poll() is None:
        _signal_group(proc, signal.SIGTERM)
        try:
            proc.wait(timeout)
        except subprocess.TimeoutExpired:
            kill(proc)
    if proc in STARTED:
        STARTED.remove(proc)
    return proc.returncode


def kill(proc):
    """SIGKILL the process and its group, and forget it."""
    if proc.poll() is None:
        _signal_group(proc, signal.SIGKILL)
        proc.wait(10)
    if proc in STARTED:
        STARTED.remove(proc)


def _signal_group(proc, sig):
    try:
        os.killpg(proc.pid, sig)
    except ProcessLookupError:
        pass


@atexit.register
def _kill_leftovers():
    for proc in list(STARTED):
        kill(proc)


def wait_for(predicate, timeout=30.0, every=0.05):
    """True as soon as `predicate()` is truthy, False after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        if predicate():
            return True
        if time.monotonic() >= deadline:
            return False
        time.sleep(every)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def up(base):
    """Whether the service at `base` answers /healthz with 200."""
    try:
        return requests.get(f"{base}/healthz", timeout=1).status_code == 200
    except requests.RequestException:
        return False


def tail(path, limit=6000):
    """The end of a log file (what a failing test shows)."""
    try:
        with open(path, "rb") as f:
            data = f.read()
    except FileNotFoundError:
        return "(no log)"
    return data[-limit:].decode("utf-8", "replace")
