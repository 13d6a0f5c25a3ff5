"""Opt-outs made at one vendor carried to every other destination (issue 20, item 2).

A vendor's event (Mailkit's unsubscribe webhook, JustClick's notification, an entry of Mailkit's unsubscribed
list) is a claim: nobody signs it. So, in this order: a repeat of an event already carried is answered from
the ledger (its idempotency key) without asking anyone; the relay's own call coming back (the vendor reports
it as an event too) is acknowledged and never sent back out; the source vendor is asked (read-back) whether
the contact is unsubscribed now; only then the opt-out goes to the other destinations through the normal
service path, recorded with the vendor's METHOD and time. Nothing here raises for a vendor's fault: an event
comes to an EventResult, counted by vendor and result.
"""

import hashlib
import logging
import threading
import time
from collections import Counter
from dataclasses import dataclass, replace
from datetime import datetime, timedelta

from connectors.errors import UpstreamError
from connectors.justclick import read_notification
from connectors.mailkit_wire import read_event as read_mailkit_event
from delivery import telemetry
from errors import InProgress, Invalid, StoreUnavailable
from masking import mask
from schemas.events import NotAnEvent
from status import CONFIRM_UNKNOWN, CONFIRMED

log = logging.getLogger("unsub_relay.events")
AUTH = "events_token"  # how every event is authenticated: the vendor's token in the URL
ECHO_WINDOW = timedelta(hours=24)  # an event this close to the relay's own call is that call coming back
# What an event can come to (the metric's `result` label and the answer's `status`).
CARRIED, REPEAT, ECHO, IGNORED, REFUTED, UNCONFIRMED = ("carried", "repeat", "echo", "ignored", "refuted",
                                                         "unconfirmed")


@dataclass(frozen=True)
class EventResult:
    """What came of one event: `result` (above), why in words (never an address), and when it was carried
    the request id and each destination's status."""

    result: str
    reason: str = ""
    request_id: str | None = None
    destinations: dict | None = None

    @property
    def body(self):
        body = {"status": self.result, "reason": self.reason}
        if self.request_id:
            body.update(id=self.request_id, destinations=self.destinations)
        return body


def channel_of(source):
    """The delivery channel of an opt-out carried from `source`: mailkit_event, justclick_event."""
    return f"{source}_event"


def happened_at(event):
    """The vendor's time of the event as a naive datetime, or None (its timezone is undocumented)."""
    try:
        return datetime.fromisoformat((event.happened or "")[:19])
    except ValueError:
        return None


def event_key(event, today):
    """The idempotency key of an event: the vendor, the address (any case) and the vendor's time, so that
    Mailkit's webhook and its unsubscribed list name one opt-out alike. JustClick sends no time: its
    notifications count once per address, group and day (`today`)."""
    when = event.happened or today.isoformat()
    group = event.listed or "" if event.source == "justclick" else ""
    text = f"{event.source}|{event.address.strip().lower()}|{when}|{group}"
    return f"events:{event.source}:{hashlib.sha256(text.encode('utf-8')).hexdigest()[:40]}"


READERS = {"mailkit": read_mailkit_event, "justclick": read_notification}


def read_event(source, body):
    """The VendorEvent in what `source` posted (its JSON or form body); NotAnEvent when it holds none."""
    return READERS[source](body)


def address_fields(event):
    return {"email" if "@" in event.address else "phone": event.address}


class EventCarrier:
    """Carries the events of one relay: its service (plan, read_back, submit), store and settings."""

    def __init__(self, service):
        self.service, self.store = service, service.store
        self.settings = service.settings.events

    def enabled(self, source):
        """Events from `source` are taken: its token is set and the relay can ask it (a read-back)."""
        return bool(self.settings.token(source)) and source in self.service.connectors

    def receive(self, event, queued=False):
        """Decide and act on one event; `queued` leaves the sends to the worker (the reconcile). NotAnEvent
        when its address cannot be read; every other case is an EventResult, counted and logged."""
        result = self._decide(event, queued)
        telemetry.vendor_event(event.source, result.result)
        log.info("vendor event source=%s method=%s address=%s result=%s reason=%s", event.source, event.method,
                 mask(event.address), result.result, result.reason)
        return result

    def _decide(self, event, queued):
        if not event.unsubscribe:
            return EventResult(IGNORED, "not an opt-out (a subscription or activation notice)")
        if event.temporary and self.settings.temporary == "ignore":
            return EventResult(IGNORED, "a temporary opt-out (EVENTS_TEMPORARY=ignore)")
        group = self._group(event)
        if group is False:
            return EventResult(IGNORED, "a list MAILKIT_LIST_GROUPS does not name")
        key = event_key(event, self.store.now().date())
        if self.store.ledger.key_state(key) is not None:
            return EventResult(REPEAT, "this event was carried before")
        if self._echo(event):
            return EventResult(ECHO, f"the relay's own opt-out at {event.source} coming back")
        refused = self._confirm(event)
        if refused:
            return refused
        deliveries = self._plan(event, group)
        if not deliveries:
            return EventResult(IGNORED, "no other destination takes this address")
        try:
            answer = self.service.submit(deliveries, key, respond_async=queued)
        except InProgress:  # a copy of this event, posted at the same moment, is being carried right now
            return EventResult(REPEAT, "a copy of this event is being carried right now")
        if answer.replayed:  # a copy carried it between the look-up above and this submit
            return EventResult(REPEAT, "this event was carried before")
        return EventResult(CARRIED, "confirmed by read-back", answer.body["id"],
                           {entry.destination: entry.status for entry in answer.entries})

    def _group(self, event):
        """The JustClick group a Mailkit event's list maps to; None for the default (JUSTCLICK_GROUP); False
        for a list the map does not name, when there is a map."""
        mapped = self.settings.list_groups
        if event.source != "mailkit" or not mapped or not event.listed:
            return None
        return mapped.get(event.listed, False)

    def _echo(self, event):
        """The relay's own call, reported back: Mailkit names every API client's call api_unsubscribe (its
        unsubscribed list names no METHOD), JustClick's notification says nothing of who unsubscribed; so an
        opt-out of this address the relay sent that vendor within ECHO_WINDOW of the event is taken as it."""
        if event.method not in (None, "api_unsubscribe", "notification"):
            return False
        now = self.store.now()
        since = min(now, happened_at(event) or now) - ECHO_WINDOW
        return self.store.queries.sent_since(event.source, event.address, since)

    def _confirm(self, event):
        """None when the source vendor confirms the contact is unsubscribed (permanently, or temporarily with
        EVENTS_TEMPORARY=permanent); else the EventResult that says why nothing is sent."""
        fields = {**address_fields(event), "group": event.listed if event.source == "justclick" else None}
        try:
            [asked] = self.service.plan([(0, fields)], to=event.source)
        except Invalid as exc:
            raise NotAnEvent(f"the event's address cannot be read: {exc.messages}") from None
        _, confirmation = self.service.read_back(asked)
        if confirmation.state == CONFIRM_UNKNOWN or not confirmation.verified:
            return EventResult(UNCONFIRMED, f"{event.source} could not confirm it now: {confirmation.detail}")
        if confirmation.state != CONFIRMED:
            return EventResult(REFUTED, f"{event.source} still lists the contact as subscribed")
        if confirmation.until and self.settings.temporary == "ignore":
            return EventResult(IGNORED, f"a temporary opt-out until {confirmation.until} (EVENTS_TEMPORARY=ignore)")
        return None

    def _plan(self, event, group):
        """The Deliveries to every other configured destination that takes the address, each marked with the
        event (vendor, METHOD, time, list) in its options, which the proof shows."""
        fields = {**address_fields(event), "group": group or None, "send_optout": False}
        marked = {"vendor": event.source, "method": event.method or "unsubscribed_list",
                  "date": event.happened, "list": event.listed}
        planned = []
        for name in (n for n in self.service.connectors if n != event.source):
            try:
                planned.extend(self.service.plan([(0, fields)], to=name, channel=channel_of(event.source),
                                                 auth=AUTH))
            except Invalid:  # JustClick takes email addresses only; a phone number goes nowhere else
                continue
        return tuple(replace(d, options={**d.options, "event": marked}) for d in planned)


class Reconciler:
    """Mailkit documents no retries, so a lost webhook is found later: every EVENTS_RECONCILE_SECONDS one
    process (the one whose record of this period's run went into the ledger first: the alert records'
    insert-once rule) reads mailkit.mailinglist.unsubscribed from the day of the last run that ended well,
    and takes each entry as an event (a repeat of what the webhook carried is answered by its key)."""

    SOURCE, RUN, DONE, SUBJECT = "mailkit", "events_reconcile", "events_reconciled", "events:mailkit"
    FIRST_LOOKBACK = timedelta(days=1)  # the first run, or one after the records were pruned

    def __init__(self, service):
        self.carrier, self.records = EventCarrier(service), service.store.alerts
        self.seconds = service.settings.events.reconcile_seconds
        self.next_at, self.running = 0.0, None

    @property
    def enabled(self):
        return self.seconds > 0 and self.carrier.enabled(self.SOURCE)

    def tick(self):
        """From the worker's loop: start a run in a thread of its own when its time has come."""
        now = time.monotonic()
        if not self.enabled or now < self.next_at or (self.running and self.running.is_alive()):
            return
        self.next_at = now + self.seconds
        self.running = threading.Thread(target=self._safely, name="events-reconcile", daemon=True)
        self.running.start()

    def _safely(self):
        try:
            self.run_once()
        except StoreUnavailable as exc:
            log.error("reconciling Mailkit's opt-outs failed (%s); trying again next period", exc.reason)
        except Exception:  # noqa: BLE001 - nothing beside delivering may stop the worker
            log.exception("reconciling Mailkit's opt-outs failed; trying again next period")

    def run_once(self):
        """This period's run, unless another process took it: {result: count}, or None when not run."""
        now = self.carrier.store.now()
        period = int((now - datetime(1970, 1, 1)).total_seconds() // max(self.seconds, 1))
        if not self.records.take([{"key": f"{self.RUN}:{period}", "kind": self.RUN, "subject": self.SUBJECT,
                                   "count": 0}], at=now):
            return None
        last = self.records.last(self.SUBJECT, (self.DONE,))
        since = last["created_at"] if last else now - self.FIRST_LOOKBACK
        try:
            events = self.carrier.service.connectors[self.SOURCE].unsubscribed(since.date())
        except UpstreamError as exc:  # the next period asks again from the same day
            log.error("mailkit.mailinglist.unsubscribed failed (%s); asking again next period", exc.message)
            return None
        results = Counter(self._receive(event) for event in events)
        self.records.take([{"key": f"{self.DONE}:{period}", "kind": self.DONE, "subject": self.SUBJECT,
                            "count": len(events)}], at=now)
        log.info("reconciled Mailkit's opt-outs since %s: %s", since.date(), dict(results) or "none")
        return dict(results)

    def _receive(self, event):
        try:
            return self.carrier.receive(event, queued=True).result
        except NotAnEvent:
            return IGNORED
