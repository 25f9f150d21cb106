"""Key figures of a buyer's filed accounts, one row per fiscal year."""

from __future__ import annotations

from datetime import date

from sqlalchemy import BigInteger, Date, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from models.base import Base


class BuyerFinancials(Base):
    """``filed_date`` is when the accounts became known: features use it, never the year end,
    so a model trained as of a date sees only accounts already filed then.

    ``buyer_id`` is deliberately not a foreign key to ``buyer``: feeds arrive in any order, and
    the accounts of a company not (yet) in the registry feed are kept, not rejected."""

    __tablename__ = "buyer_financials"

    buyer_id: Mapped[str] = mapped_column(String(32), primary_key=True)
    fiscal_year_end: Mapped[date] = mapped_column(Date, primary_key=True)
    filed_date: Mapped[date | None] = mapped_column(Date)
    revenue_cents: Mapped[int | None] = mapped_column(BigInteger)
    equity_cents: Mapped[int | None] = mapped_column(BigInteger)
    total_assets_cents: Mapped[int | None] = mapped_column(BigInteger)
    net_income_cents: Mapped[int | None] = mapped_column(BigInteger)
    total_debt_cents: Mapped[int | None] = mapped_column(BigInteger)
    operating_income_cents: Mapped[int | None] = mapped_column(BigInteger)
    headcount: Mapped[int | None] = mapped_column(Integer)
    duration_months: Mapped[int | None] = mapped_column(Integer)
