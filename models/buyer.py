"""A buyer: the seller's customer whose risk Vigie scores."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import Boolean, Date, DateTime, String
from sqlalchemy.orm import Mapped, mapped_column

from models.base import Base, utcnow


class Buyer(Base):
    """Identity from the registry feed. ``buyer_id`` is the SIREN for French companies and
    ``<ISO2>-<local id>`` for foreign ones, so every feed can reference it without a lookup.

    For sole traders (natural persons) ``name`` holds the trade name the decision needs and
    ``is_natural_person`` tells logs and exports to keep it out.
    """

    __tablename__ = "buyer"

    buyer_id: Mapped[str] = mapped_column(String(32), primary_key=True)
    siren: Mapped[str | None] = mapped_column(String(9), index=True)
    name: Mapped[str] = mapped_column(String(200))
    country: Mapped[str] = mapped_column(String(2), index=True)
    naf_code: Mapped[str | None] = mapped_column(String(6))
    legal_category: Mapped[str | None] = mapped_column(String(4))
    creation_date: Mapped[date | None] = mapped_column(Date)
    headcount_band: Mapped[str | None] = mapped_column(String(2))
    size_category: Mapped[str | None] = mapped_column(String(3))
    status: Mapped[str] = mapped_column(String(1), default="A")
    is_natural_person: Mapped[bool] = mapped_column(Boolean, default=False)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    registry_updated_at: Mapped[datetime | None] = mapped_column(DateTime)
    """Sirene ``dateDernierTraitementUniteLegale``: an older record never overwrites a newer one."""
