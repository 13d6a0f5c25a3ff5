"""Log helpers: personal data masked, one line per webhook."""

import logging

log = logging.getLogger("unsub_relay.web")


def mask(target):
    """j***@e***.com for emails, +420*****456 for phone numbers; never the whole address."""
    if not target:
        return "-"
    target = str(target)
    if "@" in target:
        local, _, domain = target.rpartition("@")
        name, dot, tld = domain.rpartition(".")
        return f"{local[:1]}***@{(name or tld)[:1]}***{dot}{tld if name else ''}"
    return target[:4] + "*" * max(len(target) - 7, 1) + target[-3:] if len(target) > 7 else "***"


def webhook_line(route, source, auth, outcomes, http, duration_ms, targets):
    """The one log line per webhook: route, source, outcome per destination, upstream code, duration."""
    results = " ".join(f"{o.destination}:{o.status}:{o.code or '-'}:{mask(targets.get(o.index))}"
                       for o in outcomes)
    log.info("webhook route=%s source=%s auth=%s http=%d duration_ms=%.1f results=[%s]",
             route, source, auth, http, duration_ms, results)
