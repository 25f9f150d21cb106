"""OAL deadline and CAP-family eligibility attached to a decision."""

from __future__ import annotations

from datetime import date

from sqlalchemy import BigInteger, Boolean, Date, ForeignKey, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from models.base import Base


class Eligibility(Base):
    """``scheme``: ``OAL``, ``CAP``, ``CAP_FRANCEXPORT``, ``CAP_PLUS``, ``CAP_PLUS_FRANCEXPORT``.
    ``amount_cents`` is the top-up or substitute amount, ``deadline`` the OAL declaration
    deadline, ``reason`` why (or why not) in a stable code."""

    __tablename__ = "eligibility"
    __table_args__ = (UniqueConstraint("decision_id", "scheme"),)

    eligibility_id: Mapped[int] = mapped_column(Integer, primary_key=True)
    decision_id: Mapped[int] = mapped_column(Integer, ForeignKey("decision.decision_id"))
    scheme: Mapped[str] = mapped_column(String(24))
    eligible: Mapped[bool] = mapped_column(Boolean)
    amount_cents: Mapped[int | None] = mapped_column(BigInteger)
    deadline: Mapped[date | None] = mapped_column(Date)
    reason: Mapped[str] = mapped_column(String(80))
    parameter_set: Mapped[str] = mapped_column(String(40))
