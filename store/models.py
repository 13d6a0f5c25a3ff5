"""The ledger's tables: one row per webhook request, one per destination it must reach."""

from datetime import datetime

from sqlalchemy import JSON, DateTime, Index, Integer, String, Text, inspect
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

PENDING, DONE, FAILED = "pending", "done", "failed"


class Base(DeclarativeBase):
    pass


class WebhookRequest(Base):
    """One accepted webhook: its idempotency key and the answer it was given."""

    __tablename__ = "webhook_requests"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    idempotency_key: Mapped[str | None] = mapped_column(String(300), unique=True)
    http_status: Mapped[int | None] = mapped_column(Integer)
    answer: Mapped[dict | None] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(DateTime, index=True)


class Delivery(Base):
    """One unsubscribe owed to one destination, from acceptance until done or failed."""

    __tablename__ = "deliveries"
    __table_args__ = (
        Index("ix_deliveries_due", "status", "next_attempt_at"),
        Index("ix_deliveries_dedup", "target", "destination", "created_at"),
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

    def as_dict(self):
        """Every column, datetimes as ISO 8601 UTC, for the CLI and /deliveries answers."""
        out = {}
        for attr in inspect(self).mapper.column_attrs:
            value = getattr(self, attr.key)
            out[attr.key] = value.isoformat() + "Z" if isinstance(value, datetime) else value
        return out
