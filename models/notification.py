"""The notification outbox: one e-mail per policyholder per run."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import Date, DateTime, ForeignKey, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from models.base import Base, utcnow


class Notification(Base):
    """Written in the same transaction as the decisions it announces. ``outbox_key`` is
    unique (policyholder and business date), so a re-run can never queue or send twice.
    ``status``: ``pending``, ``retry`` (a 4xx answer, will try again), ``sending`` (claimed by a
    sender and handed to the transport: a row left in it after a crash is *in doubt* and is never
    sent again automatically), ``sent``, ``dead_letter`` (a 5xx answer, too many attempts, or no
    valid recipient). ``business_date`` is the night that queued it (the report counts by it).
    Its bodies are in :class:`NotificationBody` (``body``)."""

    __tablename__ = "notification"

    notification_id: Mapped[int] = mapped_column(Integer, primary_key=True)
    outbox_key: Mapped[str] = mapped_column(String(80), unique=True)
    run_id: Mapped[int | None] = mapped_column(Integer)
    business_date: Mapped[date | None] = mapped_column(Date, index=True)
    policyholder_id: Mapped[str] = mapped_column(String(32), index=True)
    recipients: Mapped[str] = mapped_column(String(500))
    language: Mapped[str] = mapped_column(String(2))
    subject: Mapped[str] = mapped_column(String(300))
    status: Mapped[str] = mapped_column(String(12), index=True, default="pending")
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    last_error: Mapped[str | None] = mapped_column(Text)
    message_id: Mapped[str | None] = mapped_column(String(200))
    next_attempt_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    sent_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))

    body: Mapped[NotificationBody] = relationship(uselist=False, viewonly=True)


class NotificationBody(Base):
    """The plain-text and HTML bodies of a notification, kept apart from its row.

    Why apart: the sender updates a notification twice (claimed, then sent), and SQLite
    rewrites a whole record on every update, its overflow pages included. Inline, a first
    night's bodies (5,000 e-mails of 60 KB) were rewritten twice over, 310 MB a pass
    (1.5-2 s each, and as much again when the log is copied back into the database)."""

    __tablename__ = "notification_body"

    outbox_key: Mapped[str] = mapped_column(
        String(80), ForeignKey("notification.outbox_key"), primary_key=True
    )
    body_text: Mapped[str] = mapped_column(Text)
    body_html: Mapped[str] = mapped_column(Text)
