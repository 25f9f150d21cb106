"""Payment behaviour per buyer: hand-computed cases and the no-look-ahead property."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

import pandas as pd
import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from feeds.payments.aggregate import OUTPUT_COLUMNS, aggregate, months_before

AS_OF = date(2026, 6, 30)


def invoices(*rows: tuple[str, str, date, date, int, date | None, bool]) -> pl.DataFrame:
    """(policyholder, buyer, invoice date, due date, cents, paid date, declared) rows."""
    return pl.DataFrame(
        {
            "policyholder_id": [r[0] for r in rows],
            "buyer_id": [r[1] for r in rows],
            "invoice_id": [f"I{i}" for i in range(len(rows))],
            "invoice_date": [r[2] for r in rows],
            "due_date": [r[3] for r in rows],
            "amount_cents": [r[4] for r in rows],
            "currency": ["EUR"] * len(rows),
            "paid_date": [r[5] for r in rows],
            "overdue_declared": [r[6] for r in rows],
        },
        schema_overrides={"paid_date": pl.Date, "amount_cents": pl.Int64},
    )


# B1: A paid 10 days late, B unpaid and 30 days overdue at AS_OF (declared), C paid 20 days late.
A = ("P1", "B1", date(2026, 4, 1), date(2026, 5, 1), 10_000, date(2026, 5, 11), False)
B = ("P2", "B1", date(2026, 5, 1), date(2026, 5, 31), 30_000, None, True)
C = ("P1", "B1", date(2026, 1, 2), date(2026, 2, 1), 10_000, date(2026, 2, 21), False)


def one(frame: pd.DataFrame, buyer: str) -> dict[str, Any]:
    rows: list[dict[str, Any]] = frame[frame["buyer_id"] == buyer].to_dict("records")  # type: ignore[assignment]
    assert len(rows) == 1
    return rows[0]


def test_hand_computed_buyer() -> None:
    result = aggregate(invoices(A, B, C), as_of=AS_OF)
    assert list(result.columns) == OUTPUT_COLUMNS
    row = one(result, "B1")
    assert row["invoices"] == 3
    assert row["amount_cents"] == 50_000
    # (100 x 10 + 300 x 30 + 100 x 20) / 500
    assert row["days_beyond_terms"] == pytest.approx(24.0)
    assert row["overdue_share"] == pytest.approx(0.6)
    # B is declared but only 30 days late at AS_OF: the undated flag was set after AS_OF
    assert row["overdue_declarations"] == 0
    assert row["reporting_policyholders"] == 2
    # now: due in (03-30, 06-30] -> A, B = (100 x 10 + 300 x 30) / 400 = 25;
    # three months ago: due in (2025-12-30, 03-30], read at 03-30 -> C = 20
    assert row["dbt_trend_3m"] == pytest.approx(5.0)
    # nothing fell due in the 12 months before 2025-06-30: no trend
    assert pd.isna(row["dbt_trend_12m"])


def test_a_declaration_counts_only_once_the_invoice_is_long_enough_overdue_to_have_been_declared() -> None:
    """The flag has no date: an invoice counts as declared at a date only if it was already more
    than DECLARATION_DAYS late then (unpaid, or paid that late), so a past snapshot never sees a
    declaration made after it."""
    unpaid = ("P2", "B1", date(2026, 2, 1), date(2026, 3, 2), 30_000, None, True)  # 120 days late
    paid_late = ("P2", "B1", date(2026, 1, 1), date(2026, 1, 31), 10_000, date(2026, 4, 30), True)  # 89
    recent = ("P1", "B1", date(2026, 5, 1), date(2026, 5, 31), 10_000, None, True)  # 30 days late
    assert one(aggregate(invoices(unpaid, paid_late, recent), as_of=AS_OF), "B1")["overdue_declarations"] == 2
    # on 16 April the first is only 45 days late (not declarable yet), the second 75 days
    early = date(2026, 4, 16)
    assert one(aggregate(invoices(unpaid, paid_late), as_of=early), "B1")["overdue_declarations"] == 1


def test_payment_after_as_of_counts_as_unpaid_and_future_invoices_are_ignored() -> None:
    paid_later = (*B[:5], date(2026, 7, 15), B[6])
    future = ("P3", "B1", date(2026, 7, 1), date(2026, 7, 31), 99_999, None, True)
    seen = aggregate(invoices(A, paid_later, C, future), as_of=AS_OF)
    expected = aggregate(invoices(A, B, C), as_of=AS_OF)
    pd.testing.assert_frame_equal(seen, expected)


def test_invoice_not_yet_due_is_not_late_and_not_overdue() -> None:
    fresh = ("P1", "B2", date(2026, 6, 20), date(2026, 7, 20), 10_000, None, True)
    row = one(aggregate(invoices(fresh), as_of=AS_OF), "B2")
    assert (row["days_beyond_terms"], row["overdue_share"], row["overdue_declarations"]) == (0.0, 0.0, 0)
    assert pd.isna(row["dbt_trend_3m"])


def test_old_unpaid_invoice_stays_in_view_old_paid_one_does_not() -> None:
    old_unpaid = ("P1", "B3", date(2024, 1, 1), date(2024, 1, 31), 10_000, None, False)
    old_paid = ("P1", "B4", date(2024, 1, 1), date(2024, 1, 31), 10_000, date(2024, 2, 1), False)
    result = aggregate(invoices(old_unpaid, old_paid), as_of=AS_OF)
    assert list(result["buyer_id"]) == ["B3"]
    assert one(result, "B3")["days_beyond_terms"] == (AS_OF - date(2024, 1, 31)).days


def test_twelve_month_trend_compares_like_with_like() -> None:
    last_year = ("P1", "B5", date(2025, 3, 1), date(2025, 4, 1), 10_000, date(2025, 4, 11), False)
    this_year = ("P1", "B5", date(2026, 3, 1), date(2026, 4, 1), 10_000, date(2026, 4, 16), False)
    row = one(aggregate(invoices(last_year, this_year), as_of=AS_OF), "B5")
    assert row["dbt_trend_12m"] == pytest.approx(15.0 - 10.0)


def test_months_before_clamps_to_month_end() -> None:
    assert months_before(date(2026, 3, 31), 1) == date(2026, 2, 28)
    assert months_before(date(2026, 1, 15), 3) == date(2025, 10, 15)
    assert months_before(date(2024, 2, 29), 12) == date(2023, 2, 28)


def test_pandas_input_and_empty_input() -> None:
    result = aggregate(invoices(A, B).to_pandas(), as_of=AS_OF)
    assert one(result, "B1")["invoices"] == 2
    empty = aggregate(invoices(A).head(0), as_of=AS_OF)
    assert empty.empty and list(empty.columns) == OUTPUT_COLUMNS


_day = st.integers(min_value=0, max_value=900).map(lambda d: date(2024, 6, 1) + timedelta(days=d))


@st.composite
def _invoice(draw: st.DrawFn) -> tuple[str, str, date, date, int, date | None, bool]:
    invoice_date = draw(_day)
    due = invoice_date + timedelta(days=draw(st.integers(0, 90)))
    paid = draw(st.one_of(st.none(), st.integers(0, 200).map(lambda d: invoice_date + timedelta(days=d))))
    return (
        draw(st.sampled_from(["P1", "P2", "P3"])),
        draw(st.sampled_from(["B1", "B2"])),
        invoice_date,
        due,
        draw(st.integers(1, 10_000_000)),
        paid,
        draw(st.booleans()),
    )


@settings(max_examples=80, deadline=None)
@given(st.lists(_invoice(), min_size=1, max_size=30), _day)
def test_no_look_ahead(rows: list[tuple[str, str, date, date, int, date | None, bool]], as_of: date) -> None:
    """What happens after as_of (new invoices, payments) cannot change the figures at as_of."""
    known = [
        (*r[:5], r[5] if r[5] is not None and r[5] <= as_of else None, r[6]) for r in rows if r[2] <= as_of
    ]
    seen = aggregate(invoices(*rows), as_of=as_of)
    expected = aggregate(invoices(*known), as_of=as_of) if known else seen.head(0)
    pd.testing.assert_frame_equal(seen.reset_index(drop=True), expected.reset_index(drop=True))
    assert (seen["overdue_share"].between(0, 1)).all()
    assert (seen["days_beyond_terms"] >= 0).all()
