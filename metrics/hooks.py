"""gunicorn server hooks for prometheus-client's multiprocess mode (gunicorn.conf.py imports and calls them).

The directory must be chosen in the master before any worker imports prometheus-client (workers inherit
the environment at fork; the app is not preloaded). It is emptied at every start, so counters from an
earlier run never mix in; a dead worker's live gauges are dropped in child_exit.
"""

import glob
import os
import tempfile

ENV = "PROMETHEUS_MULTIPROC_DIR"


def prepare_directory(environ=os.environ):
    """When METRICS_TOKEN is set: make sure PROMETHEUS_MULTIPROC_DIR names an empty directory (a fresh
    private one under the temp folder when unset); returns it, or None when metrics are off."""
    if not environ.get("METRICS_TOKEN", "").strip():
        return None
    path = environ.get(ENV) or tempfile.mkdtemp(prefix="unsub-relay-metrics-")
    os.makedirs(path, exist_ok=True)
    for stale in glob.glob(os.path.join(path, "*.db")):
        os.remove(stale)
    environ[ENV] = path
    return path


def on_starting(server):
    """gunicorn master, before the first fork."""
    path = prepare_directory()
    if path:
        server.log.info("metrics: prometheus multiprocess directory %s", path)


def child_exit(server, worker):
    """gunicorn master, after a worker exited: its live gauges stop counting."""
    if os.environ.get(ENV):
        from prometheus_client import multiprocess

        multiprocess.mark_process_dead(worker.pid)
