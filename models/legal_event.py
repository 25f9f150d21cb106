"""A typed legal event from a BODACC notice (judgment, radiation, filing of accounts)."""

from __future__ import annotations

from datetime import date

from sqlalchemy import Boolean, Date, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from models.base import Base


class LegalEvent(Base):
    """``notice_id`` is BODACC's ``id``; a rectificatif replaces the fields of the notice it
    refers to and an annulation sets ``cancelled``. ``event_type`` is one of the typed events
    of :class:`models.codes.LegalEventType`
    and ``nature_raw`` keeps the original text so an unknown nature is never lost."""

    __tablename__ = "legal_event"

    notice_id: Mapped[str] = mapped_column(String(40), primary_key=True)
    buyer_id: Mapped[str] = mapped_column(String(32), index=True)
    event_type: Mapped[str] = mapped_column(String(32))
    family: Mapped[str | None] = mapped_column(String(40))
    nature_raw: Mapped[str | None] = mapped_column(Text)
    event_date: Mapped[date | None] = mapped_column(Date)
    publication_date: Mapped[date] = mapped_column(Date)
    accounts_closing_date: Mapped[date | None] = mapped_column(Date)
    cancelled: Mapped[bool] = mapped_column(Boolean, default=False)
    rectified_by: Mapped[str | None] = mapped_column(String(40))
    """``id`` of the last rectificatif or annulation applied to this notice, so an original
    notice arriving after its correction never overwrites it."""
