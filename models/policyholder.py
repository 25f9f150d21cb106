"""A policyholder: the insured seller, who receives the notifications."""

from __future__ import annotations

from sqlalchemy import BigInteger, String
from sqlalchemy.orm import Mapped, mapped_column

from models.base import Base


class Policyholder(Base):
    """``emails`` is a comma-separated list of addresses; ``language`` is ``fr`` or ``en``."""

    __tablename__ = "policyholder"

    policyholder_id: Mapped[str] = mapped_column(String(32), primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    revenue_cents: Mapped[int | None] = mapped_column(BigInteger)
    size_category: Mapped[str | None] = mapped_column(String(3))
    emails: Mapped[str] = mapped_column(String(500))
    language: Mapped[str] = mapped_column(String(2), default="fr")
