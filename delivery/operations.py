"""What operators ask of the service: configuration and readiness reports, finding, showing, replaying
and purging deliveries. The CLI, /readyz and (later) the console call these, never the store directly."""

from datetime import datetime

from connectors import registry
from delivery.alerts import SilentWatch
from delivery.worker import Worker
from errors import StoreUnavailable
from store.ledger import new_id

REPLAY_CHUNK = 100  # deliveries leased, sent and recorded at a time by a replay
NO_AUTH = ("no webhook authentication: set WEBHOOK_TOKENS or WEBHOOK_SECRET (or TYPEFORM_SECRET / "
           "TALLY_SECRET); every hook answers 401 until then")


def json_view(row):
    """A ledger row (typed) as JSON-able values, datetimes as ISO 8601 UTC: /readyz and the CLI's output."""
    return {key: (value.isoformat() + "Z" if isinstance(value, datetime) else value) for key, value in row.items()}


def check_report(settings):
    """Which destinations and webhook checks are configured, and what is missing or malformed; no secret."""
    report = {"destinations": {}, "webhook_auth": settings.auth_methods, "problems": list(settings.problems)}
    for vendor in registry.VENDORS:
        config = settings.vendor(vendor.name)
        gaps = vendor.missing(config)
        report["destinations"][vendor.name] = {"configured": not gaps, "missing": gaps, **vendor.report(config)}
    if not settings.auth_methods:
        report["problems"].append(NO_AUTH)
    if not any(d["configured"] for d in report["destinations"].values()):
        report["problems"].append("no destination is configured")
    report["ok"] = not report["problems"]
    return report


class Operations:
    """The operator's view of one service."""

    def __init__(self, service):
        self.service, self.store = service, service.store

    def readiness(self):
        """(ready, report): configuration valid, store writable and reachable, backlog young enough."""
        settings = self.service.settings
        report = check_report(settings)
        problems, store = list(report["problems"]), {"reachable": False}
        store_problems = self.store.problems()
        try:
            age = self.store.age(self.store.backlog()[1])
            others = self.store.other_mode_pending()
            store = {"reachable": not store_problems, "oldest_pending_seconds": round(age, 1),
                     "mode": self.store.mode, "other_mode_pending": others}
            if age >= settings.pending_alert_seconds:
                problems.append(f"the oldest pending delivery is {age / 3600:.1f} h old: is the worker running?")
            if settings.sandbox and others:
                problems.append(f"this sandbox process is on a ledger holding {others} pending live deliveries, "
                                "which it leaves alone: point DATABASE_URL at a ledger of its own")
        except StoreUnavailable as exc:  # say why; a health check never raises
            problems.append(f"the store is unreachable or not migrated ({exc.reason}): "
                            "check DATABASE_URL and run `flask db upgrade`")
        problems.extend(store_problems)
        body = {"status": "ok" if not problems else "unhealthy", "problems": problems, "store": store,
                "destinations": {k: v["configured"] for k, v in report["destinations"].items()},
                "breakers": self._breakers() if store["reachable"] else {}, "sandbox": settings.sandbox,
                "worker": self._worker_seen_safely() if store["reachable"] else None}
        return not problems, body

    def _breakers(self):
        """Each destination's breaker as the operator reads it (an open breaker is shown, not unhealthy:
        webhooks are still accepted and queued)."""
        gates = {name: json_view(gate) for name, gate in self.store.gates().items()}
        return {name: {"state": gate["state"], "open_since": gate["opened_at"], "next_probe": gate["next_probe_at"],
                       "failures": gate["failures"]} for name, gate in gates.items()}

    def worker_seen(self):
        """{seen_at, last_claim_at, running} over every worker (ISO 8601 UTC), or None when none ever ran: the
        JSON view (/readyz, the front page). Pages that compute with the times read the store's datetimes."""
        seen = self.store.alerts.worker_seen()
        return None if seen is None else json_view(seen)

    def _worker_seen_safely(self):
        try:
            return self.worker_seen()
        except StoreUnavailable:  # not migrated to 0004 yet: no heartbeat to show
            return None

    def check_worker_silent(self):
        """The worker-silent alert, checked in a background thread at most every 15 s (for /readyz calls);
        returns the thread started, or None."""
        if getattr(self, "_silent_watch", None) is None:
            self._silent_watch = SilentWatch(self.service)
        return self._silent_watch.poke()

    def online_check(self):
        """For each configured destination, the vendor's harmless probe: [{destination, ok, message}]."""
        settings, checks = self.service.settings, []
        for name, connector in self.service.connectors.items():
            ok, message = registry.vendor(name).probe(connector, settings.vendor(name))
            checks.append({"destination": name, "ok": ok, "message": message})
        return checks

    def worker(self, concurrency=None, sender="worker"):
        """A Worker for this service."""
        return Worker(self.service, concurrency or self.service.settings.worker_concurrency, sender)

    def replay(self, ids=None, failed=False, seen=None):
        """Send exactly these deliveries (or every failed one of this mode) again now, with a fresh retry
        window: a chunk at a time leased by id, sent and recorded. Nothing else that is due goes with them
        (the worker sends the backlog at each destination's rate); a row another sender holds right now is
        left to it; with `seen` (the attempts the operator's page showed) a row sent since is left too, so a
        double click sends once. Returns how many were sent."""
        if failed:
            ids = self.store.reports.failed_ids()
        ids, sent = list(ids or []), 0
        for start in range(0, len(ids), REPLAY_CHUNK):
            owner = new_id()
            rows = self.store.ledger.lease_again(ids[start:start + REPLAY_CHUNK], owner,
                                                 list(self.service.connectors), seen)
            self.service.record(list(self.service.pool.map(self._send_again, rows)), owner, "replay")
            sent += len(rows)
        return sent

    def _send_again(self, delivery):
        return self.service.attempt(delivery, "replay")

    def find(self, status=None, target=None, limit=100):
        """Deliveries as JSON-able dicts, newest first (the CLI's `list`)."""
        return [json_view(row) for row in self.store.queries.find(status, target, limit)]

    def show(self, delivery_id):
        """One delivery with its attempts in order, as JSON-able values, or None (the CLI's `show`)."""
        row = self.store.queries.get(delivery_id)
        if row is None:
            return None
        return {**json_view(row), "attempt_history": [json_view(a) for a in self.store.queries.attempts(row["id"])]}

    def purge(self, older_than_seconds):
        return self.store.queries.purge(older_than_seconds)

    def upgrade(self):
        self.store.upgrade()
