"""A buyer's default probability at a business date, with grade and reason codes."""

from __future__ import annotations

from datetime import date

from sqlalchemy import Date, Float, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from models.base import Base


class Score(Base):
    """``role`` is ``champion`` (drives decisions) or ``challenger`` (shadow only).
    ``model_version`` is the registry version the alias resolved to when scoring ran.
    ``reason_codes`` holds the top drivers as stable codes, comma-separated, strongest first."""

    __tablename__ = "score"
    # by date: the night's idempotent DELETE, the latest score date and the previous night's
    # scores are index seeks; on the key (buyer first) each was a scan of the whole history
    __table_args__ = (Index("ix_score_as_of_role", "as_of", "role"),)

    buyer_id: Mapped[str] = mapped_column(String(32), primary_key=True)
    as_of: Mapped[date] = mapped_column(Date, primary_key=True)
    role: Mapped[str] = mapped_column(String(10), primary_key=True, default="champion")
    pd_12m: Mapped[float] = mapped_column(Float)
    grade: Mapped[int] = mapped_column(Integer)
    rating: Mapped[str] = mapped_column(String(4))
    model_name: Mapped[str] = mapped_column(String(100))
    model_version: Mapped[str] = mapped_column(String(20))
    reason_codes: Mapped[str] = mapped_column(String(120), default="")
    run_id: Mapped[int | None] = mapped_column(Integer)
