"""`flask sandbox`'s processes: web (gunicorn, as the Procfile runs it) and worker, on 127.0.0.1 only.

The port is checked before anything starts, and the banner is printed only once the web process answers:
a newcomer's curl must reach this sandbox, not whatever else owns the port. When either process ends, the
other is stopped too, so no worker outlives its web process.
"""

import errno
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request

from sandbox.setup import REAL_CREDENTIALS
from sandbox.table import banner

HOST = "127.0.0.1"
NAMES = ("web", "worker")  # the order Processes starts them in
START_SECONDS = 60.0  # gunicorn, its workers and the first migration, on a slow machine
STOP_SECONDS = 25.0  # gunicorn's graceful_timeout (20 s) and a little


class StartError(Exception):
    """The sandbox could not start; the message says why and what to do."""


def child_env(port, env=None):
    """The environment both processes start with: the sandbox, and nothing real."""
    env = {k: v for k, v in (os.environ if env is None else env).items() if k not in REAL_CREDENTIALS}
    return {**env, "SANDBOX": "1", "PORT": str(port), "FLASK_APP": "app"}


def port_problem(port):
    """Why the web process could not listen on HOST:port, or None when it can."""
    probe = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as gunicorn binds: TIME_WAIT is no obstacle
    try:
        probe.bind((HOST, port))
    except OSError as exc:
        if exc.errno == errno.EADDRINUSE:
            return (f"port {port} is in use (another sandbox, or another program): stop it, or choose "
                    f"another port with `flask sandbox --port {port + 1}`")
        return f"cannot listen on {HOST}:{port} ({exc.strerror}): choose another port with --port"
    finally:
        probe.close()
    return None


def answers(port):
    """True once the web process answers HTTP at all (/readyz may well say 503 while it settles)."""
    try:
        with urllib.request.urlopen(f"http://{HOST}:{port}/readyz", timeout=2):
            return True
    except urllib.error.HTTPError:
        return True
    except OSError:
        return False


class Processes:
    """The web and worker processes of one sandbox, started together, and how they end together."""

    def __init__(self, root, env, port):
        bindir = os.path.dirname(sys.executable)
        # -b on the command line wins over gunicorn.conf.py's 0.0.0.0: the sandbox is for this machine only.
        web = [os.path.join(bindir, "gunicorn"), "app:app", "-c", "gunicorn.conf.py", "-b", f"{HOST}:{port}"]
        # Their own process group: Ctrl-C reaches this process only, which stops both with SIGTERM (a clean
        # stop, without the tracebacks gevent prints for a SIGINT).
        self.procs = [subprocess.Popen(line, cwd=root, env=env, process_group=0)
                      for line in (web, [os.path.join(bindir, "flask"), "worker"])]
        self.web, self.ended, self.stopping = self.procs[0], threading.Event(), False
        for proc in self.procs:
            threading.Thread(target=lambda p=proc: (p.wait(), self.ended.set()), daemon=True).start()

    def wait_until_up(self, port):
        """Wait (bounded) until the web process answers; StartError when it ends or never answers."""
        deadline = time.monotonic() + START_SECONDS
        while not answers(port):
            if self.stopping:
                raise StartError("stopped before it answered")
            if self.web.poll() is not None:
                raise StartError(f"the web process stopped (exit code {self.web.returncode}) before it "
                                 "answered: see its lines above")
            if time.monotonic() > deadline:
                raise StartError(f"the web process did not answer within {START_SECONDS:g} s: see its lines "
                                 "above")
            self.ended.wait(0.2)  # wakes at once when a process ends

    def stop(self, *_):
        """SIGTERM to each process still running (a signal handler: Ctrl-C or the platform's stop)."""
        self.stopping = True
        self.ended.set()
        for proc in self.procs:
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)

    def wait(self, echo):
        """Until one process ends (or a signal stops them), then stop the other; the exit code: 0 for a
        stop asked for, else the first unexpected one's (128 + the signal that ended it)."""
        self.ended.wait()
        by_itself = [name for name, proc in zip(NAMES, self.procs) if proc.poll() is not None]
        if by_itself and not self.stopping:
            echo(f"The {by_itself[0]} process ended by itself: stopping the other one too.")
        self.stop()
        for proc in self.procs:
            try:
                proc.wait(STOP_SECONDS)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        codes = [proc.returncode for proc in self.procs if proc.returncode not in (0, -signal.SIGTERM)]
        return (128 - codes[0] if codes[0] < 0 else codes[0]) if codes else 0


def run(root, port, keys, echo):
    """Start the sandbox and serve until Ctrl-C (or a process ends): the exit code. `keys`: (webhook token,
    form key) for the banner. StartError when it cannot start; nothing is left running then."""
    problem = port_problem(port)
    if problem:
        raise StartError(problem)
    procs = Processes(root, child_env(port), port)
    for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
        signal.signal(sig, procs.stop)
    try:
        procs.wait_until_up(port)
    except StartError:
        procs.stop()
        procs.wait(echo)
        raise
    echo(banner(port, *keys))
    return procs.wait(echo)
