"""The payment history: accepted invoices kept as one Parquet file, one row per invoice.

Why Parquet and not the database: ten million invoice rows a night would make the database a
slow copy; the nightly only needs the per-buyer aggregate, which polars computes from this file
in about a second.

Why a merge and not an append: the store always holds the current state of every invoice
(natural key policyholder_id + invoice_id), so reading it needs no de-duplication and a
re-delivered or late record can never double an invoice. Only the invoices a new file touches
are compared (a semi/anti join on the key), so a merge costs one read and one write of the file.
The write goes to a temporary file renamed over the old one: a crash leaves the previous
state, never half a file. Merging the same records twice gives the same state.
"""

from __future__ import annotations

import os
from pathlib import Path

import polars as pl

from feeds.payments.parse import INVOICE_SCHEMA, KEY, PRECEDENCE

STORE_FILE = "invoices.parquet"
BATCH = "batch"
STORE_SCHEMA = pl.Schema({**INVOICE_SCHEMA, BATCH: pl.Int64()})


def store_path(store_dir: Path) -> Path:
    return store_dir / STORE_FILE


def scan_history(store_dir: Path) -> pl.LazyFrame:
    """The current state of every invoice (lazy), empty with the right schema if none yet."""
    path = store_path(store_dir)
    if not path.is_file():
        return pl.LazyFrame(schema=STORE_SCHEMA)
    return pl.scan_parquet(path)


def merge(current: pl.DataFrame, incoming: pl.DataFrame) -> tuple[pl.DataFrame, dict[str, int]]:
    """Merge ``incoming`` invoices (one row per key) into ``current`` (pure).

    Returns the new state and counts: ``new_invoices`` (key not seen before),
    ``updated_invoices`` (the incoming record is the more advanced state) and
    ``stale_records`` (an older state arriving late: the stored record is kept)."""
    batch = int(current[BATCH].max() or 0) + 1 if not current.is_empty() else 1  # type: ignore[arg-type]
    incoming = (
        incoming.select(list(INVOICE_SCHEMA))
        .cast(INVOICE_SCHEMA)
        .with_columns(pl.lit(batch, dtype=pl.Int64).alias(BATCH))
    )
    keys = incoming.select(KEY)
    untouched = current.join(keys, on=KEY, how="anti")
    contested = current.join(keys, on=KEY, how="semi")
    fresh = incoming.join(contested.select(KEY), on=KEY, how="anti")
    challengers = incoming.join(contested.select(KEY), on=KEY, how="semi")
    # only invoices known on both sides need ordering by their states
    resolved = (
        pl.concat([contested, challengers], how="vertical")
        .sort([*KEY, *PRECEDENCE, BATCH], nulls_last=False)
        .unique(subset=KEY, keep="last", maintain_order=False)
    )
    updated = int(resolved.select((pl.col(BATCH) == batch).sum()).item())
    counts = {
        "new_invoices": len(fresh),
        "updated_invoices": updated,
        "stale_records": len(challengers) - updated,
    }
    return pl.concat([untouched, resolved, fresh], how="vertical"), counts


def merge_into_store(store_dir: Path, incoming: pl.DataFrame) -> dict[str, int]:
    """Merge accepted invoices into the store file (atomic replace). Returns the counts."""
    store_dir.mkdir(parents=True, exist_ok=True)
    path = store_path(store_dir)
    if incoming.is_empty():  # before reading millions of stored invoices for nothing
        return {"new_invoices": 0, "updated_invoices": 0, "stale_records": 0}
    current = pl.read_parquet(path) if path.is_file() else pl.DataFrame(schema=STORE_SCHEMA)
    state, counts = merge(current, incoming)
    temporary = path.with_name(f".{STORE_FILE}.{os.getpid()}.tmp")
    state.write_parquet(temporary, compression="zstd", statistics=True)
    os.replace(temporary, path)
    return counts
