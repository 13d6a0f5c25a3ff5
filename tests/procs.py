"""Process helpers for tests that run the service as deployed: start a Procfile-like line with its log in a
file, wait on a condition with a bound, pick a free port, stop and reap what was started.

Every process started here is remembered in STARTED until it is stopped, and an atexit hook kills what a
crashed test run left behind, so no gunicorn or worker outlives the suite (they would take rows from the next
run's database).
"""

import atexit
import os
import signal
import socket
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
STARTED = []


def spawn(line, env, log_path, cwd=ROOT):
    """Start `line` as the platform does (through a shell, in the project root, the virtualenv first on PATH);
    its stdout and stderr go to `log_path`. It runs in its own process group, so stopping it stops gunicorn's
    children too."""
    bindir = os.path.dirname(sys.executable)
    full = {**os.environ, **env, "PATH": f"{bindir}:{os.environ['PATH']}"}
    with open(log_path, "ab") as log:  # the child keeps its own descriptor
        proc = subprocess.Popen(["bash", "-c", f"exec {line.strip()}"], cwd=cwd, env=full, stdout=log,
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
            _signal_group(proc, signal.SIGKILL)
            proc.wait(10)
    if proc in STARTED:
        STARTED.remove(proc)
    return proc.returncode


def _signal_group(proc, sig):
    try:
        os.killpg(proc.pid, sig)
    except ProcessLookupError:
        pass


@atexit.register
def _kill_leftovers():
    for proc in list(STARTED):
        if proc.poll() is None:
            _signal_group(proc, signal.SIGKILL)
            proc.wait(10)


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


def tail(path, limit=6000):
    """The end of a log file (what a failing test shows)."""
    try:
        with open(path, "rb") as f:
            data = f.read()
    except FileNotFoundError:
        return "(no log)"
    return data[-limit:].decode("utf-8", "replace")
