"""OECD country risk category, effective-dated."""

from __future__ import annotations

from datetime import date

from sqlalchemy import Date, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from models.base import Base


class CountryGrade(Base):
    """``category`` 0 (best) to 7; NULL means *not classified* (high-income OECD and euro-area
    countries), which is its own state and never read as 0."""

    __tablename__ = "country_grade"

    country: Mapped[str] = mapped_column(String(2), primary_key=True)
    valid_from: Mapped[date] = mapped_column(Date, primary_key=True)
    category: Mapped[int | None] = mapped_column(Integer)
