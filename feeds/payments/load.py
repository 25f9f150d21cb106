"""Payments I/O: a file into the Parquet payment history, the history into ``payment_aggregate``.

Raw invoices never go to the database (see :mod:`feeds.payments.store`); the ledger of
:func:`feeds.common.ingest_file` makes the same file twice a no-op, and the store's merge on
the natural key makes a re-delivered record harmless even when the ledger cannot see it.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pandas as pd
import polars as pl
from sqlalchemy import delete
from sqlalchemy.orm import Session

from feeds.common import FileReport, ingest_file
from feeds.payments.aggregate import aggregate
from feeds.payments.parse import INVOICE_SCHEMA, parse
from feeds.payments.store import merge_into_store, scan_history
from models.db import bulk_insert
from models.payment_aggregate import PAYMENT_AGGREGATE_COLUMNS, PaymentAggregate

SOURCE = "payments"


def ingest(session: Session, path: Path, *, store_dir: Path) -> FileReport:
    """Validate one payments file (CSV or Parquet), quarantine bad rows and merge the
    accepted invoices into the history under ``store_dir``. The caller commits.

    ``FileReport.extra`` counts ``new_invoices``, ``updated_invoices`` and ``stale_records``
    (a late record of an older state, kept out of the history)."""

    def load(_session: Session, accepted: pd.DataFrame) -> dict[str, int]:
        invoices = pl.from_pandas(accepted).select(list(INVOICE_SCHEMA)).cast(INVOICE_SCHEMA)
        return merge_into_store(store_dir, invoices)

    return ingest_file(session, source=SOURCE, path=path, parse=parse, load=load)


def refresh_aggregates(
    session: Session, *, store_dir: Path, as_of: date, keep: list[pd.DataFrame] | None = None
) -> int:
    """Recompute ``payment_aggregate`` for ``as_of`` from the history: the rows of that date
    are replaced, so running it twice gives the same table. Returns the rows written.

    With ``keep``, the rows written are appended to it as the table's columns in table order,
    as reading them back would return them (the nightly hands them to the score step)."""
    frame = aggregate(scan_history(store_dir), as_of=as_of)
    session.execute(delete(PaymentAggregate).where(PaymentAggregate.as_of == as_of))
    # rows come sorted by buyer: written in primary-key order (see ``aggregate``); missing
    # values become NULL in the bulk writer
    dated = frame.assign(as_of=pd.Series([as_of] * len(frame), index=frame.index, dtype=object))
    rows = dated[PAYMENT_AGGREGATE_COLUMNS]
    written = bulk_insert(session, "payment_aggregate", rows, PAYMENT_AGGREGATE_COLUMNS)
    if keep is not None:
        keep.append(rows.reset_index(drop=True))
    return written
