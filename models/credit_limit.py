"""A credit limit: per (policy, buyer), the most outstanding the insurer covers."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import BigInteger, Date, DateTime, ForeignKey, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from models.base import Base, utcnow


class CreditLimit(Base):
    """Current state of a limit. A pending request (EDIFACT 4505: 2 new, 3 increase,
    6 cancellation, 7 reduction, 8 prolongation) lives on the row as ``request_type`` and
    ``requested_cents`` until a decision answers it (``request_id`` is the policyholder's
    reference of that request). ``outstanding_date`` is the date of the declaration that set
    ``outstanding_cents``: a later-dated declaration replaces it, an older one never does.
    ``status`` is ``active``, ``requested`` (new, never granted), ``refused`` or ``cancelled``.
    ``version`` guards concurrent edits."""

    __tablename__ = "credit_limit"
    __table_args__ = (UniqueConstraint("policy_id", "buyer_id"),)

    limit_id: Mapped[int] = mapped_column(Integer, primary_key=True)
    policy_id: Mapped[str] = mapped_column(String(32), ForeignKey("policy.policy_id"))
    buyer_id: Mapped[str] = mapped_column(String(32), index=True)
    granted_cents: Mapped[int] = mapped_column(BigInteger, default=0)
    requested_cents: Mapped[int | None] = mapped_column(BigInteger)
    request_type: Mapped[int | None] = mapped_column(Integer)
    request_date: Mapped[date | None] = mapped_column(Date)
    request_id: Mapped[str | None] = mapped_column(String(32))
    outstanding_cents: Mapped[int] = mapped_column(BigInteger, default=0)
    outstanding_date: Mapped[date | None] = mapped_column(Date)
    status: Mapped[str] = mapped_column(String(10), default="active")
    effective_date: Mapped[date | None] = mapped_column(Date)
    expiry_date: Mapped[date | None] = mapped_column(Date)
    version: Mapped[int] = mapped_column(Integer, default=1)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
