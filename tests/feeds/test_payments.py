"""Payments feed: validation, quarantine, the Parquet history and its natural key."""

from __future__ import annotations

import random
from datetime import date, timedelta
from pathlib import Path

import pandas as pd
import polars as pl
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from feeds.common import FeedFileError
from feeds.payments.load import ingest, refresh_aggregates
from feeds.payments.parse import COLUMNS, parse, validate
from feeds.payments.store import merge, scan_history, store_path
from models.feed_file import FeedFile
from models.payment_aggregate import PaymentAggregate
from models.quarantine import QuarantinedRow
from tests.feeds.payments_support import SIREN_A, SIREN_B, invoice, write_csv


def test_valid_rows_become_typed_invoices_in_cents(tmp_path: Path) -> None:
    path = write_csv(
        tmp_path / "payments.csv",
        [
            invoice("I1", amount="1234.5", paid="2026-02-10"),
            invoice("I2", buyer="DE-HRB1234", amount="7", declared="1"),
        ],
        delimiter=",",
    )
    result = parse(path)
    assert (result.read, len(result.accepted), len(result.rejected), result.duplicates) == (2, 2, 0, 0)
    rows = result.accepted.set_index("invoice_id")
    assert rows.loc["I1", "amount_cents"] == 123450
    assert rows.loc["I1", "paid_date"] == date(2026, 2, 10)
    assert rows.loc["I2", "amount_cents"] == 700
    assert rows["paid_date"].isna().tolist() == [False, True]
    assert bool(rows.loc["I2", "overdue_declared"]) is True


def test_bad_rows_are_quarantined_with_line_field_and_reason(tmp_path: Path) -> None:
    path = write_csv(
        tmp_path / "payments.csv",
        [
            invoice("OK1"),
            invoice("B1", buyer="552100555"),  # Luhn check fails
            invoice("B2", invoice_date="2026-02-30"),
            invoice("B3", due_date="2025-12-01"),
            invoice("B4", amount="12.345"),
            invoice("B5", amount="-3"),
            invoice("B6", currency="EURO"),
            invoice("B7", paid="yesterday"),
            invoice("B8", declared="yes"),
            invoice(""),
        ],
    )
    result = parse(path)
    assert result.read == 10
    assert list(result.accepted["invoice_id"]) == ["OK1"]
    rejected = result.rejected.set_index("line")
    assert dict(rejected["field"]) == {
        3: "buyer_id",
        4: "invoice_date",
        5: "due_date",
        6: "amount",
        7: "amount",
        8: "currency",
        9: "paid_date",
        10: "overdue_declared",
        11: "invoice_id",
    }
    assert rejected.loc[4, "reason"] == "expected a date YYYY-MM-DD, found '2026-02-30'"
    assert "found '12.345'" in str(rejected.loc[6, "reason"])
    assert str(rejected.loc[8, "raw"]).startswith(f"P1|{SIREN_A}|B6|")


def test_missing_column_is_one_error_naming_file_and_column(tmp_path: Path) -> None:
    path = write_csv(tmp_path / "payments.csv", [invoice("I1")[:-1]], columns=COLUMNS[:-1])
    with pytest.raises(FeedFileError, match=r"payments\.csv: expected column 'overdue_declared'"):
        parse(path)


def test_repeated_invoice_in_one_file_keeps_the_most_advanced_state(tmp_path: Path) -> None:
    path = write_csv(
        tmp_path / "payments.csv",
        [
            invoice("I1", paid="2026-03-01"),
            invoice("I1"),  # a stale unpaid copy below the paid one: still loses
            invoice("I1", paid="2026-02-15"),
        ],
    )
    result = parse(path)
    assert (len(result.accepted), result.duplicates) == (1, 2)
    assert result.accepted["paid_date"].iloc[0] == date(2026, 3, 1)


def test_parquet_input_with_typed_columns(tmp_path: Path) -> None:
    path = tmp_path / "payments_2026.parquet"
    pl.DataFrame(
        {
            "policyholder_id": ["P1", "P1"],
            "buyer_id": [SIREN_A, SIREN_B],
            "invoice_id": ["I1", "I2"],
            "invoice_date": [date(2026, 1, 1), date(2026, 1, 2)],
            "due_date": [date(2026, 1, 31), date(2026, 2, 1)],
            "amount": [100.1, 3.333],
            "currency": ["EUR", "EUR"],
            "paid_date": [None, date(2026, 2, 3)],
            "overdue_declared": [False, True],
        }
    ).write_parquet(path)
    result = parse(path)
    assert list(result.accepted["amount_cents"]) == [10010]
    assert result.rejected.to_dict("records")[0]["line"] == 2
    assert result.rejected.to_dict("records")[0]["field"] == "amount"


_cells = st.one_of(
    st.sampled_from(["", "0", "1", "EUR", "2026-01-31", "2026-13-01", "12.5", "-1", SIREN_A, "DE-X1"]),
    st.text(alphabet=st.characters(blacklist_categories=["Cs"]), max_size=12),
)


@settings(max_examples=60, deadline=None)
@given(st.lists(st.lists(_cells, min_size=9, max_size=9), max_size=25))
def test_random_rows_never_crash_and_reconcile(rows: list[list[str]]) -> None:
    raw = pl.DataFrame(
        {name: [r[i] or None for r in rows] for i, name in enumerate(COLUMNS)},
        schema=dict.fromkeys(COLUMNS, pl.String),
    ).with_columns(pl.int_range(2, pl.len() + 2, dtype=pl.Int64).alias("_line"))
    accepted, rejected, duplicates = validate(raw)
    assert len(accepted) + len(rejected) + duplicates == len(rows)
    assert set(rejected["line"].to_list()) <= set(range(2, len(rows) + 2))


def _cp1252_encodable(char: str) -> bool:
    try:
        char.encode("cp1252")
    except UnicodeEncodeError:
        return False
    return True


_CP1252 = "".join(c for c in map(chr, range(32, 256)) if _cp1252_encodable(c))
_cp1252_cells = st.one_of(
    st.sampled_from(["", "0", "1", "EUR", "2026-01-31", "12.5", SIREN_A, "DE-X1"]),
    st.text(alphabet=_CP1252, max_size=8),
)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(st.lists(_cp1252_cells, min_size=9, max_size=9), max_size=15))
def test_random_csv_files_never_crash_and_reconcile(tmp_path: Path, rows: list[list[str]]) -> None:
    """Windows-1252 text with any printable character, quotes and delimiters included. A line
    whose fields are all empty is a blank line, not a record."""
    path = write_csv(tmp_path / "payments_random.csv", [invoice("OK"), *rows], encoding="cp1252")
    result = parse(path)
    records = 1 + sum(any(cell != "" for cell in row) for row in rows)
    assert result.read == records
    assert len(result.accepted) + len(result.rejected) + result.duplicates == result.read


def test_merge_resolves_states_by_their_own_dates_not_arrival() -> None:
    def frame(paid: date | None, amount: int) -> pl.DataFrame:
        return pl.DataFrame(
            {
                "policyholder_id": ["P1"],
                "buyer_id": [SIREN_A],
                "invoice_id": ["I1"],
                "invoice_date": [date(2026, 1, 1)],
                "due_date": [date(2026, 1, 31)],
                "amount_cents": [amount],
                "currency": ["EUR"],
                "paid_date": [paid],
                "overdue_declared": [False],
            }
        )

    empty = scan_history(Path("/nonexistent")).collect()
    state, counts = merge(empty, frame(date(2026, 2, 5), 100))
    assert counts == {"new_invoices": 1, "updated_invoices": 0, "stale_records": 0}
    state, counts = merge(state, frame(None, 100))  # a late, older unpaid record
    assert counts == {"new_invoices": 0, "updated_invoices": 0, "stale_records": 1}
    assert state["paid_date"].to_list() == [date(2026, 2, 5)]
    state, counts = merge(state, frame(date(2026, 2, 5), 150))  # same state, later correction
    assert counts["updated_invoices"] == 1
    assert state.select("amount_cents", "paid_date").rows() == [(150, date(2026, 2, 5))]


def _count(session: Session, model: type) -> int:
    return int(session.execute(select(func.count()).select_from(model)).scalar_one())


def test_ingest_keeps_history_in_parquet_and_same_file_twice_changes_nothing(
    session: Session, tmp_path: Path
) -> None:
    store = tmp_path / "store"
    path = write_csv(tmp_path / "payments_1.csv", [invoice("I1"), invoice("I2", amount="abc")])
    first = ingest(session, path, store_dir=store)
    session.commit()
    assert (first.read, first.accepted, first.quarantined, first.duplicates) == (2, 1, 1, 0)
    before = store_path(store).read_bytes()
    second = ingest(session, path, store_dir=store)
    session.commit()
    assert second.already_ingested and second.accepted == 0
    assert store_path(store).read_bytes() == before
    assert _count(session, FeedFile) == 1
    assert _count(session, QuarantinedRow) == 1
    row = session.execute(select(QuarantinedRow)).scalar_one()
    assert (row.line, row.field, row.source) == (3, "amount", "payments")


def test_late_and_out_of_order_updates_never_double_an_invoice(session: Session, tmp_path: Path) -> None:
    store = tmp_path / "store"
    paid = write_csv(tmp_path / "payments_2.csv", [invoice("I1", paid="2026-02-20"), invoice("I2")])
    unpaid = write_csv(tmp_path / "payments_1.csv", [invoice("I1"), invoice("I2", declared="1")])
    report = ingest(session, paid, store_dir=store)
    assert report.extra == {"new_invoices": 2, "updated_invoices": 0, "stale_records": 0}
    report = ingest(session, unpaid, store_dir=store)  # arrives after, describes an older state of I1
    session.commit()
    assert report.extra == {"new_invoices": 0, "updated_invoices": 1, "stale_records": 1}
    history = scan_history(store).collect().sort("invoice_id")
    assert history["invoice_id"].to_list() == ["I1", "I2"]
    assert history["paid_date"].to_list() == [date(2026, 2, 20), None]
    assert history["overdue_declared"].to_list() == [False, True]


def test_missing_column_loads_nothing(session: Session, tmp_path: Path) -> None:
    store = tmp_path / "store"
    path = write_csv(tmp_path / "payments.csv", [invoice("I1")], columns=[*COLUMNS[:5], "amt", *COLUMNS[6:]])
    with pytest.raises(FeedFileError, match="'amount'"):
        ingest(session, path, store_dir=store)
    assert not store_path(store).exists()
    assert _count(session, FeedFile) == 0


def test_refresh_aggregates_replaces_the_rows_of_that_date(session: Session, tmp_path: Path) -> None:
    store = tmp_path / "store"
    rows = [
        invoice("I1", buyer=SIREN_A, paid="2026-02-10"),
        invoice("I2", buyer=SIREN_B, policyholder="P2"),
    ]
    ingest(session, write_csv(tmp_path / "payments.csv", rows), store_dir=store)
    as_of = date(2026, 3, 2)
    assert refresh_aggregates(session, store_dir=store, as_of=as_of) == 2
    assert refresh_aggregates(session, store_dir=store, as_of=as_of) == 2
    refresh_aggregates(session, store_dir=store, as_of=date(2026, 3, 3))
    session.commit()
    assert _count(session, PaymentAggregate) == 4
    row = session.get(PaymentAggregate, (as_of, SIREN_B))
    assert row is not None
    assert (row.invoices, row.amount_cents, row.overdue_share) == (1, 10000, 1.0)
    assert row.days_beyond_terms == pytest.approx(30.0)  # due 2026-01-31, unpaid on 2026-03-02
    assert row.dbt_trend_12m is None


_state = st.tuples(
    st.one_of(st.none(), st.integers(0, 60).map(lambda d: date(2026, 2, 1) + timedelta(days=d))),
    st.booleans(),
    st.integers(1, 10_000),
)


@settings(max_examples=60, deadline=None)
@given(st.lists(_state, min_size=1, max_size=6, unique_by=lambda s: (s[0], s[1])), st.randoms())
def test_final_state_does_not_depend_on_arrival_order(
    states: list[tuple[date | None, bool, int]], rng: random.Random
) -> None:
    """Records of one invoice merged in any order end in its most advanced state."""

    def record(paid: date | None, declared: bool, amount: int) -> pl.DataFrame:
        return pl.DataFrame(
            {
                "policyholder_id": ["P1"],
                "buyer_id": [SIREN_A],
                "invoice_id": ["I1"],
                "invoice_date": [date(2026, 1, 1)],
                "due_date": [date(2026, 1, 31)],
                "amount_cents": [amount],
                "currency": ["EUR"],
                "paid_date": [paid],
                "overdue_declared": [declared],
            },
            schema_overrides={"paid_date": pl.Date},
        )

    arrival = list(states)
    rng.shuffle(arrival)
    state = scan_history(Path("/nonexistent")).collect()
    for paid, declared, amount in arrival:
        state, _counts = merge(state, record(paid, declared, amount))
    expected = max(states, key=lambda s: (s[0] is not None, s[0] or date.min, s[1]))
    assert len(state) == 1
    assert state.select("paid_date", "overdue_declared", "amount_cents").row(0) == expected


def test_the_aggregates_kept_for_the_score_step_are_the_rows_read_back(
    session: Session, tmp_path: Path
) -> None:
    """The nightly hands the aggregates it just wrote to the score step instead of reading them
    back: they must be exactly what the read returns (dtypes, dates, missing values)."""
    from scoring.dataset import read_inputs  # the reader the score step would otherwise use

    store = tmp_path / "store"
    rows = [
        invoice("I1", buyer=SIREN_A, paid="2026-02-10"),
        invoice("I2", buyer=SIREN_B, policyholder="P2"),
        invoice("I3", buyer=SIREN_B, policyholder="P3", amount="12.34", paid="2026-01-20"),
    ]
    ingest(session, write_csv(tmp_path / "payments.csv", rows), store_dir=store)
    as_of = date(2026, 3, 2)
    kept: list[pd.DataFrame] = []
    refresh_aggregates(session, store_dir=store, as_of=as_of, keep=kept)
    session.commit()
    read = read_inputs(session, as_of=as_of, payment_dates=[as_of]).payments
    assert read["dbt_trend_12m"].isna().any()  # a missing value goes through both ways
    by_buyer = read.sort_values("buyer_id").reset_index(drop=True)
    handed = read_inputs(session, as_of=as_of, payment_dates=[as_of], payments=kept[0]).payments
    pd.testing.assert_frame_equal(handed.sort_values("buyer_id").reset_index(drop=True), by_buyer)
    with pytest.raises(ValueError, match="expected the payment aggregates with the columns"):
        read_inputs(session, as_of=as_of, payment_dates=[as_of], payments=kept[0].drop(columns="as_of"))
