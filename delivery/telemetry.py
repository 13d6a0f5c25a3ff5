"""The service's Prometheus metrics and the small functions the service, worker and edge call to record them.

prometheus-client picks single- or multi-process storage when it is first imported (PROMETHEUS_MULTIPROC_DIR,
set by metrics.hooks.on_starting in gunicorn's master before any worker imports this). Every gauge names a
multiprocess_mode so one scrape can merge what every gunicorn worker wrote.
"""

import time
from datetime import timezone

from prometheus_client import Counter, Gauge, Histogram


WEBHOOKS = Counter("unsub_relay_webhooks_received_total", "Webhook requests answered, by route, sender type "
                   "and HTTP status.", ["route", "sender", "status"])
DELIVERIES = Counter("unsub_relay_deliveries_total", "Delivery results, by destination and outcome: what each "
                     "accepted delivery came to when answered (queued included) and each later send.",
                     ["destination", "outcome"])
UPSTREAM_SECONDS = Histogram("unsub_relay_upstream_call_seconds", "Duration of each call to a vendor, by "
                             "destination.", ["destination"],
                             buckets=(0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 25))
BACKLOG = Gauge("unsub_relay_backlog_pending", "Pending deliveries (read from the ledger at scrape time).",
                multiprocess_mode="livemostrecent")
OLDEST_PENDING = Gauge("unsub_relay_oldest_pending_age_seconds", "Age of the oldest pending delivery (read "
                       "from the ledger at scrape time; 0 when none).", multiprocess_mode="livemostrecent")
WORKER_CLAIMS = Counter("unsub_relay_worker_claims_total", "Deliveries a worker claimed and sent, by "
                        "destination.", ["destination"])
WORKER_LAST_SEEN = Gauge("unsub_relay_worker_last_seen_timestamp_seconds", "Unix time a worker last sent a "
                         "claimed delivery (set by the worker, and read from the ledger's heartbeat at scrape "
                         "time, so any process's /metrics tells it).", multiprocess_mode="max")
ACCEPTED = Counter("unsub_relay_opt_outs_accepted_total", "New deliveries the ledger accepted, by destination, "
                   "where the opt-out came from (webhook, link, cli, import, console, mailkit_event, ...) and how "
                   "it was authenticated (the method, never the secret).", ["destination", "channel", "auth"])
READ_BACKS = Counter("unsub_relay_read_backs_total", "Read-backs of an accepted opt-out, by destination and "
                     "what the vendor said (confirmed, still_subscribed, unknown).", ["destination", "state"])
VENDOR_EVENTS = Counter("unsub_relay_vendor_events_total", "Opt-outs a vendor reported (its webhook or the "
                        "reconcile), by vendor and what came of them (carried, repeat, echo, ignored, refuted, "
                        "unconfirmed).", ["vendor", "result"])
ALERTS_SENT = Counter("unsub_relay_alerts_sent_total", "Alert messages sent, by event.", ["event"])


def webhook_answered(route, source, status):
    """One webhook answered with HTTP `status`; `source` is the inbound shape (zapier, typeform, ...), which
    the metric labels `sender` (its published name)."""
    WEBHOOKS.labels(route, source, str(status)).inc()


def upstream_called(destination, seconds, sender):
    """One call to a vendor took `seconds`; a worker's call also counts as a claim and a sign of life."""
    UPSTREAM_SECONDS.labels(destination).observe(seconds)
    if sender == "worker":
        WORKER_CLAIMS.labels(destination).inc()
        WORKER_LAST_SEEN.set(time.time())


def accepted(destination, channel, auth):
    """One new delivery written to the ledger."""
    ACCEPTED.labels(destination, channel or "unknown", auth or "unknown").inc()


def read_back(destination, seconds, state):
    """One read-back call took `seconds` and came to `state`."""
    UPSTREAM_SECONDS.labels(destination).observe(seconds)
    READ_BACKS.labels(destination, state).inc()


def vendor_event(vendor, result):
    """One opt-out reported by `vendor` came to `result` (delivery/events.py)."""
    VENDOR_EVENTS.labels(vendor, result).inc()


def delivered(destination, outcome):
    """One delivery came to `outcome` (status.py's vocabulary)."""
    DELIVERIES.labels(destination, outcome).inc()


def alert_sent(event):
    """One alert message went out: a service in ALERT_URLS accepted it (delivery/notify.py)."""
    ALERTS_SENT.labels(event).inc()


def backlog_seen(pending, oldest_age_seconds):
    """The backlog as one cheap ledger read found it just now."""
    BACKLOG.set(pending)
    OLDEST_PENDING.set(oldest_age_seconds)


def refresh_backlog(operations):
    """Read the backlog (one indexed query) and the workers' last claim (the heartbeat row) from the ledger
    into the gauges, just before a scrape: a web process, which sends nothing as a worker, reports them too."""
    store = operations.store
    pending, oldest = store.backlog()
    backlog_seen(pending, store.age(oldest))
    seen = store.alerts.worker_seen()
    if seen and seen.get("last_claim_at"):
        WORKER_LAST_SEEN.set(seen["last_claim_at"].replace(tzinfo=timezone.utc).timestamp())
