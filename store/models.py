"""The ledger's tables: webhook requests, deliveries (one per destination owed), and every attempt made."""

from datetime import date, datetime

from sqlalchemy import JSON, Date, DateTime, Float, ForeignKey, Index, Integer, String, Text, text
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from status import PENDING


class Base(DeclarativeBase):
    pass


class WebhookRequest(Base):
    """One keyed request: its idempotency key (scoped by route and credential), what it asked, its answer."""

    __tablename__ = "webhook_requests"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    idempotency_key: Mapped[str | None] = mapped_column(String(300), unique=True)
    fingerprint: Mapped[str | None] = mapped_column(String(64))  # sha256 of what the request asked for
    http_status: Mapped[int | None] = mapped_column(Integer)  # unused since 0002; kept for old rows
    answer: Mapped[dict | None] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(DateTime, index=True)
    lease_until: Mapped[datetime | None] = mapped_column(DateTime)  # who holds the key, until when


class Delivery(Base):
    """One unsubscribe owed to one destination, from acceptance until done or failed."""

    __tablename__ = "deliveries"
    __table_args__ = (
        Index("ix_deliveries_due", "status", "next_attempt_at"),
        # The dedup look-up and the operator's case-insensitive search by address (migration 0006).
        Index("ix_deliveries_target", text("lower(target)"), "destination", "created_at"),
        Index("ix_deliveries_created_at", "created_at"),  # purge
        # Read-backs due (migration 0008): only the few rows waiting for one are in it.
        Index("ix_deliveries_confirm_due", "confirm_due_at", sqlite_where=text("confirm_due_at IS NOT NULL"),
              postgresql_where=text("confirm_due_at IS NOT NULL")),
    )

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    request_id: Mapped[str] = mapped_column(String(32), index=True)
    item_index: Mapped[int] = mapped_column(Integer, default=0)
    idempotency_key: Mapped[str | None] = mapped_column(String(300))
    destination: Mapped[str] = mapped_column(String(16))
    target: Mapped[str] = mapped_column(String(320))
    group: Mapped[str | None] = mapped_column("group_name", String(255))
    campaign: Mapped[str | None] = mapped_column(String(32))
    options: Mapped[dict] = mapped_column(JSON, default=dict)
    payload: Mapped[dict] = mapped_column(JSON)
    status: Mapped[str] = mapped_column(String(16), default=PENDING)
    outcome: Mapped[str | None] = mapped_column(String(24))
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    last_code: Mapped[str | None] = mapped_column(String(32))
    last_text: Mapped[str | None] = mapped_column(Text)
    error_kind: Mapped[str | None] = mapped_column(String(24))
    created_at: Mapped[datetime] = mapped_column(DateTime)
    updated_at: Mapped[datetime] = mapped_column(DateTime)
    next_attempt_at: Mapped[datetime] = mapped_column(DateTime)
    retry_since: Mapped[datetime] = mapped_column(DateTime)
    completed_at: Mapped[datetime | None] = mapped_column(DateTime)
    lease_owner: Mapped[str | None] = mapped_column(String(32))
    lease_until: Mapped[datetime | None] = mapped_column(DateTime)
    # live or sandbox (migration 0007): a process claims, shows and exports only rows of its own mode.
    mode: Mapped[str] = mapped_column(String(8), default="live", server_default="live")
    # Where the opt-out came from (migration 0008): the channel, how it was authenticated (the method, never
    # the secret), when it was received; NULL on rows written before.
    channel: Mapped[str | None] = mapped_column(String(32))
    auth_method: Mapped[str | None] = mapped_column(String(32))
    received_at: Mapped[datetime | None] = mapped_column(DateTime)
    # The vendor's read-back of an accepted opt-out: when it is due, how many times a contact still
    # subscribed was sent again, and what the vendor last said (status.py CONFIRMED, ...).
    confirm_due_at: Mapped[datetime | None] = mapped_column(DateTime)
    confirm_attempts: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    confirmed_at: Mapped[datetime | None] = mapped_column(DateTime)
    confirmation: Mapped[str | None] = mapped_column(String(24))
    confirmation_detail: Mapped[str | None] = mapped_column(Text)
    confirmed_until: Mapped[date | None] = mapped_column(Date)


class Attempt(Base):
    """One send of a delivery to its vendor: when, how long, who sent it, what the vendor said."""

    __tablename__ = "attempts"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    delivery_id: Mapped[str] = mapped_column(String(32), ForeignKey("deliveries.id", ondelete="CASCADE"),
                                             index=True)
    number: Mapped[int] = mapped_column(Integer)
    started_at: Mapped[datetime] = mapped_column(DateTime)
    duration_ms: Mapped[int] = mapped_column(Integer)
    sender: Mapped[str] = mapped_column(String(16))  # web, worker, replay, cli
    outcome: Mapped[str] = mapped_column(String(24))  # as the vendor's answer reads, before retry policy
    code: Mapped[str | None] = mapped_column(String(32))
    text: Mapped[str | None] = mapped_column(Text)
    error_kind: Mapped[str | None] = mapped_column(String(24))


class DestinationGate(Base):
    """One destination's circuit breaker and delivery-rate bucket, shared by every process."""

    __tablename__ = "destination_gates"

    destination: Mapped[str] = mapped_column(String(16), primary_key=True)
    state: Mapped[str] = mapped_column(String(8))  # closed or open
    failures: Mapped[int] = mapped_column(Integer)  # consecutive transient failures
    failed_probes: Mapped[int] = mapped_column(Integer)
    probing: Mapped[int] = mapped_column(Integer, default=0)  # 1 while a probe is out
    opened_at: Mapped[datetime | None] = mapped_column(DateTime)
    next_probe_at: Mapped[datetime | None] = mapped_column(DateTime)
    reason: Mapped[str | None] = mapped_column(Text)
    tokens: Mapped[float] = mapped_column(Float)
    tokens_at: Mapped[datetime | None] = mapped_column(DateTime)


class WorkerHeartbeat(Base):
    """One worker process: who and where it is, when it last looked in and last claimed a delivery."""

    __tablename__ = "worker_heartbeats"

    worker_id: Mapped[str] = mapped_column(String(32), primary_key=True)
    host: Mapped[str] = mapped_column(String(255))
    pid: Mapped[int] = mapped_column(Integer)
    started_at: Mapped[datetime] = mapped_column(DateTime)
    seen_at: Mapped[datetime] = mapped_column(DateTime, index=True)
    last_claim_at: Mapped[datetime | None] = mapped_column(DateTime)
    stopped_at: Mapped[datetime | None] = mapped_column(DateTime)  # set on a clean stop
    mode: Mapped[str] = mapped_column(String(8), default="live", server_default="live")  # live or sandbox


class AlertRecord(Base):
    """One alert decided: its unique key makes exactly one process (the one that inserted it) send it."""

    __tablename__ = "alerts"
    __table_args__ = (Index("ix_alerts_subject", "subject", "created_at"),)

    key: Mapped[str] = mapped_column(String(200), primary_key=True)  # kind:subject:bucket
    kind: Mapped[str] = mapped_column(String(32))
    subject: Mapped[str] = mapped_column(String(64))
    count: Mapped[int] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(DateTime, index=True)


class OperatorAction(Base):
    """One thing done in the operator console (or a login refused): when, what, on what, and the result."""

    __tablename__ = "operator_log"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    at: Mapped[datetime] = mapped_column(DateTime, index=True)
    action: Mapped[str] = mapped_column(String(32))  # replay, replay_destination, online_check, login, ...
    subject: Mapped[str | None] = mapped_column(Text)  # delivery ids or a destination, never an address
    result: Mapped[str | None] = mapped_column(Text)


class ConsoleSession(Base):
    """One operator login: the cookie holds a random id, the ledger its digest; logout ends it here."""

    __tablename__ = "console_sessions"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    created_at: Mapped[datetime] = mapped_column(DateTime)
    expires_at: Mapped[datetime] = mapped_column(DateTime)
    ended_at: Mapped[datetime | None] = mapped_column(DateTime)
    # The address the operator last searched for: kept here, never in the cookie or a URL.
    search_address: Mapped[str | None] = mapped_column(String(320))


class LoginFailure(Base):
    """Wrong console passwords from one client (a digest of its address): the lockout is that client's."""

    __tablename__ = "login_failures"

    client: Mapped[str] = mapped_column(String(64), primary_key=True)
    failures: Mapped[int] = mapped_column(Integer)
    last_at: Mapped[datetime] = mapped_column(DateTime)
    locked_until: Mapped[datetime | None] = mapped_column(DateTime)


DELIVERIES, REQUESTS, ATTEMPTS = Delivery.__table__, WebhookRequest.__table__, Attempt.__table__
GATES, OPERATOR_LOG = DestinationGate.__table__, OperatorAction.__table__
HEARTBEATS, ALERTS = WorkerHeartbeat.__table__, AlertRecord.__table__
CONSOLE_SESSIONS, LOGIN_FAILURES = ConsoleSession.__table__, LoginFailure.__table__

