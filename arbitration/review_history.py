"""A buyer's history in the dossier, read through the recent dates of tables keyed by date.

``score`` and ``payment_aggregate`` are keyed date first (a night's million rows are appended,
not spread over every page of the history): a buyer's rows are found date by date, each date
one step back along the key, never by a scan of every buyer's history."""

from __future__ import annotations

from datetime import date
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from models.db import mapped_rows, read_frame
from models.payment_aggregate import PaymentAggregate

PAYMENT_POINTS = 12
"""Payment aggregate dates shown in a dossier (a buyer without invoices at a date has no row)."""


_RECENT_DATES = """
WITH RECURSIVE recent(as_of, n) AS (
  SELECT (SELECT as_of FROM {table} WHERE {where} ORDER BY as_of DESC LIMIT 1), 1
  UNION ALL
  SELECT (SELECT t.as_of FROM {table} t WHERE {where} AND t.as_of < recent.as_of
          ORDER BY t.as_of DESC LIMIT 1), n + 1
  FROM recent WHERE recent.as_of IS NOT NULL AND n < :count
)
SELECT as_of FROM recent WHERE as_of IS NOT NULL
"""


def recent_dates(session: Session, table: str, count: int, where: str = "1 = 1") -> list[date]:
    """The latest ``count`` dates of a history table keyed by date (``score``,
    ``payment_aggregate``), newest first, each one step back along the key: a buyer's history
    is then read date by date, never by a scan of every buyer's."""
    sql = _RECENT_DATES.format(table=table, where=where)
    return list(read_frame(session, sql, {"count": count})["as_of"])


def payment_history(session: Session, buyer_id: str) -> list[dict[str, Any]]:
    """The buyer's payment aggregates of the latest :data:`PAYMENT_POINTS` aggregate dates,
    newest first (a date where the buyer had no invoice has no row)."""
    return mapped_rows(
        session,
        select(PaymentAggregate)
        .where(
            PaymentAggregate.as_of.in_(recent_dates(session, "payment_aggregate", PAYMENT_POINTS)),
            PaymentAggregate.buyer_id == buyer_id,
        )
        .order_by(PaymentAggregate.as_of.desc())
        .with_only_columns(
            PaymentAggregate.as_of,
            PaymentAggregate.invoices,
            PaymentAggregate.amount_cents,
            PaymentAggregate.days_beyond_terms,
            PaymentAggregate.overdue_share,
            PaymentAggregate.overdue_declarations,
            PaymentAggregate.reporting_policyholders,
        ),
    )
