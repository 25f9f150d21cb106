"""Benchmark: aggregate 10,000,000 invoice records per buyer (target <= 10 s on 2 cores).

Usage::

    python benchmarks/payments_aggregate.py [--rows 10000000] [--buyers 1000000] [--parquet FILE]

Without ``--parquet`` it writes a synthetic payment history (the store's schema) to a
temporary folder first; the generation is not timed. It then times, separately:
``aggregate`` over a lazy scan of the Parquet file (the nightly path), and the merge of the
same records into an empty store (what ingesting one full nightly file costs).
"""

from __future__ import annotations

import argparse
import tempfile
import time
from datetime import date, timedelta
from pathlib import Path

import numpy as np
import polars as pl

from feeds.payments.aggregate import aggregate
from feeds.payments.store import merge_into_store, scan_history, store_path


def synthetic_history(path: Path, *, rows: int, buyers: int, as_of: date, seed: int = 1) -> None:
    rng = np.random.default_rng(seed)
    epoch = np.datetime64(as_of) - np.timedelta64(730, "D")
    invoice_day = rng.integers(0, 730, rows)
    terms = rng.choice(np.array([30, 45, 60]), rows)
    late = np.where(rng.random(rows) < 0.3, rng.integers(1, 120, rows), -rng.integers(0, 10, rows))
    invoice_date = epoch + invoice_day.astype("timedelta64[D]")
    due_date = invoice_date + terms.astype("timedelta64[D]")
    paid_date = due_date + late.astype("timedelta64[D]")
    paid_date = np.maximum(paid_date, invoice_date)
    unpaid = (rng.random(rows) < 0.08) | (paid_date > np.datetime64(as_of))
    frame = pl.DataFrame(
        {
            "policyholder_id": pl.Series(rng.integers(0, 50_000, rows)).cast(pl.String),
            "buyer_id": pl.Series(rng.integers(0, buyers, rows)).cast(pl.String).str.pad_start(9, "0"),
            "invoice_id": pl.Series(np.arange(rows)).cast(pl.String),
            "invoice_date": invoice_date,
            "due_date": due_date,
            "amount_cents": rng.integers(10_000, 5_000_000, rows),
            "currency": ["EUR"] * rows,
            "paid_date": pl.Series(paid_date).set(pl.Series(unpaid), None),
            "overdue_declared": rng.random(rows) < 0.02,
        }
    ).with_columns(pl.col("invoice_date", "due_date", "paid_date").cast(pl.Date))
    frame.write_parquet(path, compression="zstd")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=10_000_000)
    parser.add_argument("--buyers", type=int, default=1_000_000)
    parser.add_argument("--parquet", type=Path, default=None, help="An existing history file to aggregate.")
    parser.add_argument("--skip-merge", action="store_true", help="Time the aggregate only.")
    args = parser.parse_args()
    as_of = date(2026, 11, 23)
    with tempfile.TemporaryDirectory() as folder:
        path = args.parquet
        if path is None:
            path = Path(folder) / "history.parquet"
            started = time.perf_counter()
            synthetic_history(path, rows=args.rows, buyers=args.buyers, as_of=as_of)
            print(f"generated {args.rows:,} invoices in {time.perf_counter() - started:.1f} s (not timed)")
        rows = pl.scan_parquet(path).select(pl.len()).collect().item()
        started = time.perf_counter()
        pl.scan_parquet(path).group_by("buyer_id").agg(pl.col("amount_cents").sum()).collect()
        floor = time.perf_counter() - started
        print(f"reference: one plain sum per buyer over the same file {floor:.2f} s (machine load check)")
        timings = []
        for _ in range(3):
            started = time.perf_counter()
            result = aggregate(pl.scan_parquet(path), as_of=as_of)
            timings.append(time.perf_counter() - started)
        print(
            f"aggregate {rows:,} invoices -> {len(result):,} buyers: "
            f"median {sorted(timings)[1]:.2f} s (runs {', '.join(f'{t:.2f}' for t in timings)}; target <= 10 s)"
        )
        if not args.skip_merge:
            store = Path(folder) / "store"
            incoming = pl.read_parquet(path).drop("batch", strict=False)
            started = time.perf_counter()
            merge_into_store(store, incoming)
            first = time.perf_counter() - started
            updates = incoming.sample(fraction=0.1, seed=2).with_columns(
                pl.col("due_date").alias("paid_date") + timedelta(days=1)
            )
            started = time.perf_counter()
            merge_into_store(store, updates)
            second = time.perf_counter() - started
            started = time.perf_counter()
            aggregate(scan_history(store), as_of=as_of)
            through = time.perf_counter() - started
            print(
                f"merge into empty store {first:.2f} s; merge {len(updates):,} updates into "
                f"{rows:,} {second:.2f} s; aggregate from the store {through:.2f} s "
                f"({store_path(store).stat().st_size / 1e6:.0f} MB)"
            )


if __name__ == "__main__":
    main()
