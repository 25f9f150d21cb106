"""A credit-insurance policy and its terms."""

from __future__ import annotations

from decimal import Decimal

from sqlalchemy import BigInteger, Boolean, ForeignKey, Numeric, String
from sqlalchemy.orm import Mapped, mapped_column

from models.base import Base


class Policy(Base):
    """``territory`` is ``FR`` (France only), ``EXPORT`` or ``BOTH``. Named-buyer thresholds
    default to 5,000 EUR (France) and 10,000 EUR (export); indemnity shares are fractions."""

    __tablename__ = "policy"

    policy_id: Mapped[str] = mapped_column(String(32), primary_key=True)
    policyholder_id: Mapped[str] = mapped_column(
        String(32), ForeignKey("policyholder.policyholder_id"), index=True
    )
    territory: Mapped[str] = mapped_column(String(6))
    named_threshold_domestic_cents: Mapped[int] = mapped_column(BigInteger, default=500_000)
    named_threshold_export_cents: Mapped[int] = mapped_column(BigInteger, default=1_000_000)
    indemnity_share_named: Mapped[Decimal] = mapped_column(Numeric(5, 4), default=Decimal("0.90"))
    indemnity_share_unnamed: Mapped[Decimal] = mapped_column(Numeric(5, 4), default=Decimal("0.70"))
    oal_option: Mapped[bool] = mapped_column(Boolean, default=False)
    currency: Mapped[str] = mapped_column(String(3), default="EUR")
    max_liability_cents: Mapped[int | None] = mapped_column(BigInteger)
