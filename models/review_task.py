"""An arbiter's task on a referred decision (one or two approvals)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, DateTime, ForeignKey, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from models.base import Base, utcnow


class ReviewTask(Base):
    """``status``: ``open``, ``awaiting_second`` (four-eyes: one approval given), ``closed``.
    ``first_arbiter_id`` is who proposed; the second approver must be someone else."""

    __tablename__ = "review_task"

    task_id: Mapped[int] = mapped_column(Integer, primary_key=True)
    decision_id: Mapped[int] = mapped_column(Integer, ForeignKey("decision.decision_id"), unique=True)
    desk: Mapped[str] = mapped_column(String(40), index=True)
    status: Mapped[str] = mapped_column(String(16), index=True, default="open")
    required_authority_cents: Mapped[int] = mapped_column(BigInteger)
    approvals_needed: Mapped[int] = mapped_column(Integer, default=1)
    first_arbiter_id: Mapped[int | None] = mapped_column(Integer)
    first_amount_cents: Mapped[int | None] = mapped_column(BigInteger)
    version: Mapped[int] = mapped_column(Integer, default=1)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    closed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
