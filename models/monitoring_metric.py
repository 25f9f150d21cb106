"""Model-monitoring figures stored per run (PSI, backtest, override rate)."""

from __future__ import annotations

from sqlalchemy import Float, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from models.base import Base


class MonitoringMetric(Base):
    """One figure: ``metric`` (``psi``, ``backtest_auc``, ``override_rate``, ``grade_pvalue``...),
    ``subject`` (a feature name, a grade, or ``score``), its value and a status
    (``ok``, ``warning``, ``alert``)."""

    __tablename__ = "monitoring_metric"

    metric_id: Mapped[int] = mapped_column(Integer, primary_key=True)
    run_id: Mapped[int] = mapped_column(Integer, index=True)
    metric: Mapped[str] = mapped_column(String(32))
    subject: Mapped[str] = mapped_column(String(80))
    value: Mapped[float | None] = mapped_column(Float)
    status: Mapped[str] = mapped_column(String(10), default="ok")
