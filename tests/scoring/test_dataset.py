"""The point-in-time training set, read from the database (SQLite and PostgreSQL)."""

from __future__ import annotations

from datetime import date

import pandas as pd

from scoring.dataset import read_inputs, snapshot_dates, training_set
from tests.scoring.fakes import load, portfolio

AS_OF = date(2026, 6, 30)


def test_snapshots_are_quarterly_and_end_twelve_months_before():
    snaps = snapshot_dates(AS_OF)
    assert snaps[-1] == date(2025, 6, 30)
    assert snaps[0] == date(2023, 9, 30)
    assert len(snaps) == 8
    assert snapshot_dates(date(2026, 5, 31))[-2] == date(2025, 2, 28)  # month ends are clamped


def test_training_set_uses_only_what_was_published_by_the_training_date(session):
    frames = portfolio(120, as_of=AS_OF, seed=5)
    load(session, frames)
    snaps = snapshot_dates(AS_OF)
    before = training_set(
        read_inputs(session, as_of=AS_OF, payment_dates=snaps), snapshots=snaps, as_of=AS_OF
    )
    assert set(before["snapshot"].dt.date) == set(snaps)
    assert before["target"].sum() > 0
    # a default inside the last window but published after the training date, and accounts
    # filed after it, must not change a single label or feature
    healthy = before.loc[before["target"] == 0].index[-1]
    late = pd.DataFrame(
        {
            "notice_id": ["late-1"],
            "buyer_id": [healthy],
            "event_type": ["open_lj"],
            "family": ["collective"],
            "nature_raw": [None],
            "event_date": [date(2026, 6, 1)],
            "publication_date": [date(2026, 7, 15)],
            "accounts_closing_date": [None],
            "cancelled": [False],
        }
    )
    fin = (
        frames["buyer_financials"]
        .head(1)
        .assign(
            buyer_id=healthy, fiscal_year_end=date(2025, 3, 31), filed_date=date(2026, 7, 1), equity_cents=-1
        )
    )
    load(session, {"buyer": frames["buyer"].head(0), "buyer_financials": fin, "legal_event": late,
                   "payment_aggregate": frames["payment_aggregate"].head(0), "country_grade": frames["country_grade"].head(0)})  # fmt: skip
    after = training_set(read_inputs(session, as_of=AS_OF, payment_dates=snaps), snapshots=snaps, as_of=AS_OF)
    pd.testing.assert_frame_equal(before, after)
    later = date(2026, 7, 31)
    moved = training_set(read_inputs(session, as_of=later, payment_dates=snaps), snapshots=snaps, as_of=later)
    last = moved[moved["snapshot"] == pd.Timestamp(snaps[-1])]
    assert last.loc[healthy, "target"] == 1


def test_buyers_already_in_procedure_are_left_out(session):
    frames = portfolio(80, as_of=AS_OF, seed=6)
    load(session, frames)
    snaps = snapshot_dates(AS_OF)
    data = training_set(read_inputs(session, as_of=AS_OF, payment_dates=snaps), snapshots=snaps, as_of=AS_OF)
    ev = frames["legal_event"]
    first = ev.iloc[0]
    after_default = [s for s in snaps if pd.Timestamp(s) >= pd.Timestamp(first["publication_date"])]
    for snap in after_default:
        rows = data[(data["snapshot"] == pd.Timestamp(snap))]
        assert first["buyer_id"] not in rows.index
