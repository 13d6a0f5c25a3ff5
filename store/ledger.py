"""Ledger operations: accept, claim, record, and the operator's queries. Time is injectable."""

import random
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

from sqlalchemy import delete, func, or_, select, update
from sqlalchemy.orm import sessionmaker

from store.models import DONE, FAILED, PENDING, Delivery, WebhookRequest

MAX_BACKOFF_SECONDS = 3600.0


def utcnow():
    """Naive UTC now: the ledger stores naive UTC on every database."""
    return datetime.now(timezone.utc).replace(tzinfo=None)


def new_id():
    """A random 32-hex-digit identifier."""
    return uuid.uuid4().hex


@dataclass
class Planned:
    """One unsubscribe to write: item index, destination, target, group and the vendor payload."""

    index: int
    destination: str
    target: str
    group: str | None
    campaign: str | None
    options: dict
    payload: dict


class InProgress(Exception):
    """A request with this idempotency key is still being handled."""


class Ledger:
    """The store of deliveries; every method is one short transaction."""

    def __init__(self, engine, clock=utcnow, rand=random.random, retry_base=30.0,
                 retry_max_age=48 * 3600.0, dedup_window=600.0):
        self.engine = engine
        self.session = sessionmaker(engine, expire_on_commit=False)
        self.clock, self.rand = clock, rand
        self.retry_base, self.retry_max_age, self.dedup_window = retry_base, retry_max_age, dedup_window

    def stored_answer(self, key):
        """(http status, answer) stored for an idempotency key; None if unseen; InProgress if pending."""
        with self.session() as db:
            row = db.scalar(select(WebhookRequest).where(WebhookRequest.idempotency_key == key))
        if row is None:
            return None
        if row.answer is None:
            raise InProgress(key)
        return row.http_status, row.answer

    def _duplicate(self, db, plan, now):
        if self.dedup_window <= 0:
            return None
        group = Delivery.group.is_(None) if plan.group is None else Delivery.group == plan.group
        return db.scalar(
            select(Delivery).where(Delivery.target == plan.target, Delivery.destination == plan.destination,
                                   group, Delivery.status.in_((PENDING, DONE)),
                                   Delivery.created_at >= now - timedelta(seconds=self.dedup_window))
            .order_by(Delivery.created_at.desc()).limit(1))

    def accept(self, plans, key=None, lease_owner=None, lease_seconds=0.0):
        """Write a request and its delivery rows in one transaction, before anything is sent.

        Returns (request id, [(plan, delivery, is_new)]); a plan within the dedup window gets the
        earlier delivery and no new row. Raises IntegrityError when the key was taken meanwhile.
        """
        now = self.clock()
        request_id = new_id()
        placed = []
        with self.session.begin() as db:
            db.add(WebhookRequest(id=request_id, idempotency_key=key, created_at=now))
            for plan in plans:
                earlier = self._duplicate(db, plan, now)
                if earlier is not None:
                    placed.append((plan, earlier, False))
                    continue
                row = Delivery(
                    id=new_id(), request_id=request_id, item_index=plan.index, idempotency_key=key,
                    destination=plan.destination, target=plan.target, group=plan.group,
                    campaign=plan.campaign, options=plan.options, payload=plan.payload, status=PENDING,
                    attempts=0, created_at=now, updated_at=now, next_attempt_at=now, retry_since=now,
                    lease_owner=lease_owner,
                    lease_until=now + timedelta(seconds=lease_seconds) if lease_owner else None)
                db.add(row)
                placed.append((plan, row, True))
        return request_id, placed

    def store_answer(self, request_id, http_status, answer):
        """Keep the answer given, so a repeat of the same key gets the same one."""
        with self.session.begin() as db:
            db.execute(update(WebhookRequest).where(WebhookRequest.id == request_id)
                       .values(http_status=http_status, answer=answer))

    def forget_request(self, request_id):
        """Drop a keyed request that wrote nothing, so its key can be used again."""
        with self.session.begin() as db:
            db.execute(delete(WebhookRequest).where(WebhookRequest.id == request_id))

    def backoff(self, attempts):
        """Seconds before the next try: exponential from retry_base, capped, with full jitter."""
        delay = min(self.retry_base * 2 ** max(attempts - 1, 0), MAX_BACKOFF_SECONDS)
        return delay / 2 + self.rand() * delay / 2

    def _apply(self, row, result, now):
        row.attempts += 1
        row.updated_at = now
        row.last_code, row.last_text = result.code, result.message
        row.error_kind = result.error.kind if result.error else None
        row.lease_owner = row.lease_until = None
        if result.ok:
            row.status, row.outcome, row.completed_at = DONE, result.status, now
        elif result.transient and now - row.retry_since < timedelta(seconds=self.retry_max_age):
            row.status, row.outcome = PENDING, None
            row.next_attempt_at = now + timedelta(seconds=self.backoff(row.attempts))
        else:
            expired = result.transient
            row.status, row.outcome, row.completed_at = FAILED, result.status, now
            if expired:
                row.error_kind = "expired"
                row.last_text = f"gave up after {row.attempts} attempts: {result.message}"

    def record(self, outcomes, owner):
        """Store results [(delivery id, Result)] for rows this owner still holds; returns the rows."""
        now = self.clock()
        rows = []
        with self.session.begin() as db:
            for delivery_id, result in outcomes:
                row = db.get(Delivery, delivery_id)
                if row is None or row.lease_owner != owner or row.status != PENDING:
                    continue  # the lease ran out and another process took it over
                self._apply(row, result, now)
                rows.append(row)
        return rows

    def claim(self, owner, limit, lease_seconds):
        """Lease up to `limit` due rows to `owner`; SKIP LOCKED keeps workers apart on PostgreSQL."""
        now = self.clock()
        due = (select(Delivery.id)
               .where(Delivery.status == PENDING, Delivery.next_attempt_at <= now,
                      or_(Delivery.lease_until.is_(None), Delivery.lease_until < now))
               .order_by(Delivery.next_attempt_at).limit(limit)
               .with_for_update(skip_locked=True))
        with self.session.begin() as db:
            ids = list(db.scalars(due))
            if not ids:
                return []
            db.execute(update(Delivery).where(Delivery.id.in_(ids))
                       .values(lease_owner=owner, lease_until=now + timedelta(seconds=lease_seconds)))
            return list(db.scalars(select(Delivery).where(Delivery.id.in_(ids), Delivery.lease_owner == owner)))

    def release(self, owner):
        """Give back every lease this owner holds (a worker stopping cleanly)."""
        with self.session.begin() as db:
            db.execute(update(Delivery).where(Delivery.lease_owner == owner, Delivery.status == PENDING)
                       .values(lease_owner=None, lease_until=None))

    def get(self, delivery_id):
        """One delivery by id (or unique id prefix), or None."""
        with self.session() as db:
            row = db.get(Delivery, delivery_id)
            if row is None and len(delivery_id) >= 6:
                rows = list(db.scalars(select(Delivery).where(Delivery.id.startswith(delivery_id)).limit(2)))
                row = rows[0] if len(rows) == 1 else None
            return row

    def find(self, status=None, target=None, limit=100):
        """Deliveries, newest first, filtered by status and/or target address."""
        query = select(Delivery).order_by(Delivery.created_at.desc()).limit(limit)
        if status:
            query = query.where(Delivery.status == status)
        if target:
            query = query.where(func.lower(Delivery.target) == target.strip().lower())
        with self.session() as db:
            return list(db.scalars(query))

    def requeue(self, ids=None, failed=False):
        """Make deliveries due now again (replay); returns how many."""
        now = self.clock()
        query = update(Delivery).values(status=PENDING, outcome=None, next_attempt_at=now, retry_since=now,
                                        lease_owner=None, lease_until=None, completed_at=None, updated_at=now)
        if failed:
            query = query.where(Delivery.status == FAILED)
        else:
            query = query.where(Delivery.id.in_(ids or []))
        with self.session.begin() as db:
            return db.execute(query).rowcount

    def purge(self, older_than_seconds):
        """Delete finished deliveries and answered requests older than the cut-off; pending stay."""
        cutoff = self.clock() - timedelta(seconds=older_than_seconds)
        with self.session.begin() as db:
            gone = db.execute(delete(Delivery).where(Delivery.status != PENDING,
                                                     Delivery.created_at < cutoff)).rowcount
            live = select(Delivery.request_id).distinct()
            db.execute(delete(WebhookRequest).where(WebhookRequest.created_at < cutoff,
                                                    WebhookRequest.id.not_in(live)))
        return gone

    def oldest_pending_age(self):
        """Seconds since the oldest pending delivery was accepted (0 when none)."""
        with self.session() as db:
            oldest = db.scalar(select(func.min(Delivery.created_at)).where(Delivery.status == PENDING))
        return 0.0 if oldest is None else max((self.clock() - oldest).total_seconds(), 0.0)

