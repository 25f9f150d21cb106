"""A decision on a credit limit for a business date, with everything that explains it."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import (
    BigInteger,
    Boolean,
    Date,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from models.base import Base, utcnow


class Decision(Base):
    """Keyed by (limit, business date) so a re-run never doubles a decision.

    ``decision_type`` is the EDIFACT 4507 code (2 approved, 3 not approved, 5 partly approved,
    8 cancellation, 9 reduction...), ``reason_code`` the 4509 code, ``reason_rule`` the id of
    the rule that reason comes from (its motive is what the policyholder reads; NULL for manual
    decisions). ``status``: ``applied`` (within automatic authority), ``referred`` (waits for
    an arbiter), ``approved``, ``amended``, ``refused`` (arbiter outcomes). ``fired_rules``
    and ``observed`` are JSON text: the rule ids that fired and the variable values they saw.
    ``version`` guards two arbiters acting at once.
    """

    __tablename__ = "decision"
    __table_args__ = (
        UniqueConstraint("limit_id", "business_date"),
        # the arbiters' queue filters and sorts on these; one covering index keeps its p95 low
        Index(
            "ix_decision_queue",
            "status",
            "desk",
            "required_authority_cents",
            "business_date",
            "proposed_cents",
            "buyer_id",
        ),
        # what the night still has to qualify and notify: final decisions not yet notified. A
        # short range of this key whatever the history (a status-first index walked every
        # final decision ever made, 0.9-1.3 s a query after six nights on a million-buyer book)
        Index("ix_decision_pending", "notified", "status", "business_date"),
    )

    decision_id: Mapped[int] = mapped_column(Integer, primary_key=True)
    limit_id: Mapped[int] = mapped_column(Integer, ForeignKey("credit_limit.limit_id"))
    business_date: Mapped[date] = mapped_column(Date, index=True)
    run_id: Mapped[int | None] = mapped_column(Integer)
    policy_id: Mapped[str] = mapped_column(String(32))
    buyer_id: Mapped[str] = mapped_column(String(32), index=True)
    policyholder_id: Mapped[str] = mapped_column(String(32))  # not looked up by: no index
    decision_type: Mapped[int] = mapped_column(Integer)
    reason_code: Mapped[int] = mapped_column(Integer)
    reason_rule: Mapped[str | None] = mapped_column(String(60))
    previous_cents: Mapped[int] = mapped_column(BigInteger)
    # what the policyholder asked for when the decision answers a request (NULL otherwise):
    # applying the decision clears the request from the limit, eligibility still needs it
    requested_cents: Mapped[int | None] = mapped_column(BigInteger)
    proposed_cents: Mapped[int] = mapped_column(BigInteger)
    final_cents: Mapped[int | None] = mapped_column(BigInteger)
    status: Mapped[str] = mapped_column(String(10))  # looked up through ix_decision_queue
    desk: Mapped[str | None] = mapped_column(String(40), index=True)
    required_authority_cents: Mapped[int | None] = mapped_column(BigInteger)
    four_eyes: Mapped[bool] = mapped_column(Boolean, default=False)
    effective_date: Mapped[date] = mapped_column(Date)
    rule_set_version: Mapped[str] = mapped_column(String(64))
    model_version: Mapped[str | None] = mapped_column(String(20))
    fired_rules: Mapped[str] = mapped_column(Text, default="[]")
    observed: Mapped[str] = mapped_column(Text, default="{}")
    explanation: Mapped[str | None] = mapped_column(Text)
    notified: Mapped[bool] = mapped_column(Boolean, default=False)
    version: Mapped[int] = mapped_column(Integer, default=1)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    decided_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
