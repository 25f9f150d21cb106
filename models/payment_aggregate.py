"""Payment experience aggregated per buyer at a business date (raw invoices stay in Parquet)."""

from __future__ import annotations

from datetime import date

import pandas as pd
from sqlalchemy import BigInteger, Date, Float, Integer, PrimaryKeyConstraint, String
from sqlalchemy.orm import Mapped, mapped_column

from models.base import Base


class PaymentAggregate(Base):
    """Why an aggregate and not the invoices: ten million invoice rows a night would make the
    database a slow copy of a Parquet file; decisions need only these per-buyer figures."""

    __tablename__ = "payment_aggregate"
    # keyed by date (as the score): a night's aggregates are appended at the end of the key,
    # replacing a night's is one range of it. Readers take the aggregates of one date (the
    # latest on or before theirs); the dossier reads a buyer's through the recent dates.
    __table_args__ = (PrimaryKeyConstraint("as_of", "buyer_id"),)

    buyer_id: Mapped[str] = mapped_column(String(32))
    as_of: Mapped[date] = mapped_column(Date)
    invoices: Mapped[int] = mapped_column(Integer)
    amount_cents: Mapped[int] = mapped_column(BigInteger)
    days_beyond_terms: Mapped[float] = mapped_column(Float)
    overdue_share: Mapped[float] = mapped_column(Float)
    overdue_declarations: Mapped[int] = mapped_column(Integer)
    dbt_trend_3m: Mapped[float | None] = mapped_column(Float)
    dbt_trend_12m: Mapped[float | None] = mapped_column(Float)
    reporting_policyholders: Mapped[int] = mapped_column(Integer)


PAYMENT_AGGREGATE_COLUMNS: list[str] = list(PaymentAggregate.__table__.columns.keys())
"""Every column of ``payment_aggregate``, in table order."""
PAYMENT_MEASURES: list[str] = [c for c in PAYMENT_AGGREGATE_COLUMNS if c not in ("buyer_id", "as_of")]


def measures_as_numbers(payments: pd.DataFrame) -> pd.DataFrame:
    """The measures present in ``payments`` as numbers, even a column holding no value at all
    (a read returns such a column as objects): aggregates read back and aggregates handed over
    in memory then have the same dtypes."""
    present = [c for c in PAYMENT_MEASURES if c in payments.columns]
    return payments.assign(**{c: pd.to_numeric(payments[c]) for c in present})
