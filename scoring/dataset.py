"""The point-in-time training set: features at past snapshot dates, labelled with what
happened in the 12 months after each snapshot.

Why snapshots at least 12 months before the training date: the label of a snapshot is only
complete once its 12-month window has closed, and only events published by the training date
may count (a test trains twice with a later event added and shows nothing earlier moves).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any

import numpy as np
import pandas as pd
from sqlalchemy.orm import Session

from models.bulk_read import read_bulk
from models.codes import COLLECTIVE_OPENINGS
from models.db import read_frame
from models.payment_aggregate import PAYMENT_AGGREGATE_COLUMNS, measures_as_numbers
from scoring.features import build_features

HORIZON_MONTHS = 12
SNAPSHOTS = 8
STEP_MONTHS = 3


def add_months(day: date, months: int) -> date:
    """Same day ``months`` later (or earlier), clamped to the month's last day."""
    return (pd.Timestamp(day) + pd.DateOffset(months=months)).date()


def snapshot_dates(as_of: date) -> list[date]:
    """Quarterly snapshots over the two years ending 12 months before ``as_of`` (oldest first):
    each one has a complete, already-published 12-month outcome window."""
    last = add_months(as_of, -HORIZON_MONTHS)
    return [add_months(last, -STEP_MONTHS * k) for k in reversed(range(SNAPSHOTS))]


@dataclass
class Inputs:
    """The raw frames features are built from (already restricted to what was known at as_of)."""

    buyers: pd.DataFrame
    financials: pd.DataFrame
    legal_events: pd.DataFrame
    payments: pd.DataFrame
    country_grades: pd.DataFrame


def sample_buyers(inputs: Inputs, *, max_buyers: int, seed: int = 0) -> Inputs:
    """At most ``max_buyers`` buyers drawn uniformly (seeded), with every row of theirs in the
    other frames; ``inputs`` itself when it has no more buyers than that."""
    if len(inputs.buyers) <= max_buyers:
        return inputs
    chosen = np.random.default_rng(seed).choice(len(inputs.buyers), size=max_buyers, replace=False)
    buyers = inputs.buyers.iloc[np.sort(chosen)].reset_index(drop=True)
    keep = pd.Index(buyers["buyer_id"])

    def mine(frame: pd.DataFrame) -> pd.DataFrame:
        return frame[frame["buyer_id"].isin(keep)].reset_index(drop=True)

    return Inputs(
        buyers,
        mine(inputs.financials),
        mine(inputs.legal_events),
        mine(inputs.payments),
        inputs.country_grades,
    )


def bulk_reads(as_of: date) -> list[tuple[str, dict[str, Any]]]:
    """The queries (and parameters) of :func:`read_inputs`' three bulk reads, in order: the
    buyers, their accounts, their legal events known at ``as_of``. Named here so the nightly
    can have them read ahead (:func:`models.bulk_read.prefetch`) exactly as they will be asked."""
    return [
        (
            "SELECT buyer_id, country, naf_code, status, legal_category, creation_date, headcount_band, "
            "size_category FROM buyer",
            {},
        ),
        (
            "SELECT buyer_id, fiscal_year_end, filed_date, revenue_cents, equity_cents, total_assets_cents, "
            "net_income_cents, total_debt_cents, operating_income_cents FROM buyer_financials "
            "WHERE filed_date <= :d",
            {"d": as_of},
        ),
        (
            "SELECT buyer_id, event_type, event_date, publication_date, accounts_closing_date, cancelled "
            "FROM legal_event WHERE publication_date <= :d",
            {"d": as_of},
        ),
    ]


def read_inputs(
    session: Session, *, as_of: date, payment_dates: list[date], payments: pd.DataFrame | None = None
) -> Inputs:
    """Read what was known at ``as_of`` (the pure features filter again: belt and braces).
    The three big tables (a million buyers, millions of accounts) are read in bulk
    (:func:`models.bulk_read.read_bulk`).

    ``payments``: the aggregates of ``payment_dates`` already in hand, exactly as the table
    holds them (every column, in table order); the query is then skipped."""
    buyers, financials, legal = (read_bulk(session, sql, params) for sql, params in bulk_reads(as_of))
    if payments is not None:
        if list(payments.columns) != PAYMENT_AGGREGATE_COLUMNS:
            raise ValueError(
                f"expected the payment aggregates with the columns {PAYMENT_AGGREGATE_COLUMNS}, found {list(payments.columns)}"
            )
    elif payment_dates:
        marks = ", ".join(f":p{i}" for i in range(len(payment_dates)))
        payments = read_frame(
            session,
            f"SELECT {', '.join(PAYMENT_AGGREGATE_COLUMNS)} FROM payment_aggregate WHERE as_of IN ({marks})",
            {f"p{i}": d for i, d in enumerate(payment_dates)},
        )
    else:
        payments = pd.DataFrame(columns=PAYMENT_AGGREGATE_COLUMNS)
    payments = measures_as_numbers(payments)  # on every path: same dtypes however they came
    grades = read_frame(
        session,
        "SELECT country, valid_from, category FROM country_grade WHERE valid_from <= :d",
        {"d": as_of},
    )
    return Inputs(buyers, financials, legal, payments, grades)


def default_dates(legal_events: pd.DataFrame, *, known_at: date) -> pd.DataFrame:
    """Dates of default events (collective openings, not cancelled) published by ``known_at``."""
    ev = legal_events
    published = pd.to_datetime(ev["publication_date"], errors="coerce")
    when = pd.to_datetime(ev["event_date"], errors="coerce").fillna(published)
    keep = (
        ev["event_type"].astype(str).isin([str(x) for x in COLLECTIVE_OPENINGS])
        & ~ev["cancelled"].fillna(False).astype(bool)
        & (published <= pd.Timestamp(known_at))
    )
    return pd.DataFrame({"buyer_id": ev.loc[keep, "buyer_id"], "default_date": when[keep]})


def label(buyer_ids: pd.Index, defaults: pd.DataFrame, *, start: date) -> pd.Series:
    """1 when the buyer defaulted in (start, start + 12 months], else 0."""
    end = pd.Timestamp(add_months(start, HORIZON_MONTHS))
    window = defaults[(defaults["default_date"] > pd.Timestamp(start)) & (defaults["default_date"] <= end)]
    return pd.Series(buyer_ids.isin(window["buyer_id"]).astype(int), index=buyer_ids, name="target")


def training_set(inputs: Inputs, *, snapshots: list[date], as_of: date) -> pd.DataFrame:
    """Stacked feature frames of every snapshot with ``snapshot`` and ``target`` columns.
    Buyers already in a collective procedure at a snapshot are left out: they are in default,
    not at risk of it. Foreign buyers are left out too: their defaults never reach BODACC (and
    no claims feed exists yet), so they would all be labelled "no default" and teach the model
    that export buyers are safe."""
    defaults = default_dates(inputs.legal_events, known_at=as_of)
    parts = []
    for snapshot in snapshots:
        frame = build_features(
            inputs.buyers,
            inputs.financials,
            inputs.legal_events,
            inputs.payments,
            inputs.country_grades,
            as_of=snapshot,
        )
        frame = frame[~frame["collective_procedure"] & (frame["is_domestic"] == 1)]
        frame = frame.assign(
            snapshot=pd.Timestamp(snapshot), target=label(frame.index, defaults, start=snapshot)
        )
        parts.append(frame)
    if not parts:
        return pd.DataFrame()
    return pd.concat(parts)
