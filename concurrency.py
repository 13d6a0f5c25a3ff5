"""How this process waits: on gevent's hub (our gunicorn workers monkey-patch) or on OS threads.

One fact read by several rooms (the store's file lock, serving's body deadline, the connectors' call
deadline), so it lives below all of them and imports nothing of ours.
"""

import sys


def under_gevent():
    """True in a process whose sockets and sleeps gevent has monkey-patched (our gunicorn workers)."""
    monkey = sys.modules.get("gevent.monkey")
    return monkey is not None and monkey.is_module_patched("time")
