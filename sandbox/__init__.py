"""Built-in simulators of JustClick and Mailkit, for trying the service without vendor accounts.

`start_simulators()` starts both on 127.0.0.1 (ephemeral ports) once per process and returns what the
settings need. Every process starts its own: each gunicorn worker and the `flask worker` gets its own
simulators on its own port, and they share no state. None is needed: in the sandbox every well-formed
address is simply unsubscribed, unless it carries a marker (`anna+notfound@example.com`):

    +notfound   the vendor's "not in any list" answer (JustClick 801; Mailkit echoes the address)
    +down       HTTP 503
    +badhash    an answer that fails verification (JustClick: a wrong hash; Mailkit XML-RPC: a hostile
                document; Mailkit JSON, which is unsigned: a status Mailkit never documents)
    +ratelimit  JustClick code 8; Mailkit HTTP 429
    +slow       the answer comes after SLOW_SECONDS (combine: `anna+slow+notfound@example.com`)
    +stillsubscribed  the unsubscribe is answered as done, but the read-back still lists the contact
"""

import logging
import os
import threading

from sandbox.justclick import JustClickSimulator
from sandbox.mailkit import MailkitSimulator

# Well-known, public credentials: they only open the simulators, never a real account.
JUSTCLICK_LOGIN = "sandbox"
JUSTCLICK_SECRET = "sandbox-justclick-secret"
JUSTCLICK_GROUP = "sandbox"
MAILKIT_CLIENT_ID = "100200"
MAILKIT_CLIENT_MD5 = "5a2dbb0c5e6d4d0f9b3a7c1e8f246a10"
SLOW_SECONDS = 2.0  # under UPSTREAM_TIMEOUT's default (10 s), so `+slow` still succeeds

log = logging.getLogger("sandbox")
_lock = threading.Lock()
_running = []


def _forget_after_fork():
    """A forked child has the parent's listening sockets but not its serving threads: start afresh."""
    global _lock
    _lock = threading.Lock()  # the parent may have held it at the fork
    for simulator in _running:
        simulator.server.server_close()  # closes the child's copy of the socket only
    _running.clear()


os.register_at_fork(after_in_child=_forget_after_fork)


def _start():
    justclick = JustClickSimulator(JUSTCLICK_LOGIN, JUSTCLICK_SECRET, everyone_subscribed=True, record=False,
                                   group=JUSTCLICK_GROUP)
    mailkit = MailkitSimulator(MAILKIT_CLIENT_ID, MAILKIT_CLIENT_MD5, everyone_subscribed=True, record=False)
    for simulator in (justclick, mailkit):
        simulator.slow_seconds = SLOW_SECONDS
        simulator.start()
    log.info("sandbox: JustClick simulator on %s, Mailkit simulator on %s (pid %d)",
             justclick.base, mailkit.base, os.getpid())
    return [justclick, mailkit]


def start_simulators():
    """Start this process's simulators unless they run already; what the settings need to use them."""
    with _lock:
        if not _running:
            _running.extend(_start())
        justclick, mailkit = _running
    return {
        "justclick_login": JUSTCLICK_LOGIN, "justclick_secret": JUSTCLICK_SECRET,
        "justclick_group": JUSTCLICK_GROUP, "justclick_api_url": justclick.api_url(),
        "mailkit_client_id": MAILKIT_CLIENT_ID, "mailkit_client_md5": MAILKIT_CLIENT_MD5,
        "mailkit_json_url": mailkit.url("json"), "mailkit_xmlrpc_url": mailkit.url("xmlrpc"),
    }


def environment(simulators, transport="json"):
    """The same as environment variables (JUSTCLICK_LOGIN=..., MAILKIT_API_URL=...) for one transport."""
    names = ("justclick_login", "justclick_secret", "justclick_group", "justclick_api_url",
             "mailkit_client_id", "mailkit_client_md5")
    return {**{name.upper(): simulators[name] for name in names},
            "MAILKIT_TRANSPORT": transport, "MAILKIT_API_URL": simulators[f"mailkit_{transport}_url"]}
