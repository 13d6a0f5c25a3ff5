"""The one log line per webhook, personal data masked (what every edge's log needs is in edge/logs.py)."""

import logging

from edge.logs import log_safe
from masking import mask

log = logging.getLogger("unsub_relay.web")


def webhook_line(route, source, auth, entries, http, duration_ms, targets):
    """The one log line per webhook: route, source, status per destination, upstream code, duration."""
    results = " ".join(
        f"{e.destination}:{e.status}:{log_safe(e.code or '-', 40)}:{mask(targets.get(e.index))}"
        for e in entries)
    log.info("webhook route=%s source=%s auth=%s http=%d duration_ms=%.1f results=[%s]",
             log_safe(route), source, auth, http, duration_ms, results)
