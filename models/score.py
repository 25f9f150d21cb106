"""A buyer's default probability at a business date, with grade and reason codes."""

from __future__ import annotations

from datetime import date

from sqlalchemy import Date, Float, Integer, PrimaryKeyConstraint, String
from sqlalchemy.orm import Mapped, Session, mapped_column

from models.base import Base
from models.db import read_frame


class Score(Base):
    """``role`` is ``champion`` (drives decisions) or ``challenger`` (shadow only).
    ``model_version`` is the registry version the alias resolved to when scoring ran.
    ``reason_codes`` holds the top drivers as stable codes, comma-separated, strongest first."""

    __tablename__ = "score"
    # keyed by date: a night's million scores are appended at the end of the key (keyed buyer
    # first, they landed on every page of a key growing with the history: 4 s to write after
    # two nights, 7 s after eleven). Per-buyer reads go through the recent dates (the dossier,
    # arbitration's latest scores, the eligibility grade).
    __table_args__ = (PrimaryKeyConstraint("as_of", "role", "buyer_id"),)

    buyer_id: Mapped[str] = mapped_column(String(32))
    as_of: Mapped[date] = mapped_column(Date)
    role: Mapped[str] = mapped_column(String(10), default="champion")
    pd_12m: Mapped[float] = mapped_column(Float)
    grade: Mapped[int] = mapped_column(Integer)
    rating: Mapped[str] = mapped_column(String(4))
    model_name: Mapped[str] = mapped_column(String(100))
    model_version: Mapped[str] = mapped_column(String(20))
    reason_codes: Mapped[str] = mapped_column(String(120), default="")
    run_id: Mapped[int | None] = mapped_column(Integer)


LATEST_SCORE_DATE = (
    "SELECT as_of FROM score WHERE role = 'champion' AND as_of <= :as_of ORDER BY as_of DESC LIMIT 1"
)
"""The latest champion score date on or before ``:as_of`` (no row if none): a walk back along
the key from ``:as_of`` that stops at the first champion row."""


def latest_score_date(session: Session, as_of: date) -> date | None:
    """The latest champion score date on or before ``as_of``, None when nothing was scored."""
    found = read_frame(session, LATEST_SCORE_DATE, {"as_of": as_of})["as_of"]
    return found.iloc[0] if len(found) else None
