"""Financials feed: euros to integer cents, filing dates, refilings, order of arrival."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from pathlib import Path

import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import select, text
from sqlalchemy.orm import Session

from feeds.common import FeedFileError
from feeds.financials import load as financials_load
from feeds.financials.parse import REQUIRED, parse, parse_file, to_cents
from models.buyer_financials import BuyerFinancials

HEADER = ";".join(REQUIRED)


def write(path: Path, *lines: str, encoding: str = "utf-8", header: str = HEADER) -> Path:
    path.write_bytes(("\n".join([header, *lines]) + "\n").encode(encoding))
    return path


GOOD = "880878145;2021-12-31;2022-05-01;12;1234567.89;-0.29;10;100;200.99;;12"


def test_amounts_become_exact_integer_cents() -> None:
    cents, bad = to_cents(
        pd.Series(["0.29", "-0.29", "1234567.8", "12", "", "1e5", "1.234", "9" * 13 + ".99", "9" * 14])
    )
    assert cents.tolist()[:4] == [29, -29, 123456780, 1200]
    assert pd.isna(cents.iloc[4]) and not bad.iloc[4]
    assert bad.tolist()[5:7] == [True, True]
    assert cents.iloc[7] == int("9" * 15)
    assert bad.iloc[8]


def test_a_row_becomes_a_buyer_financials_row(tmp_path: Path) -> None:
    result = parse_file(write(tmp_path / "financials.csv", GOOD))
    row = result.accepted.iloc[0]
    assert row["buyer_id"] == "880878145"
    assert row["fiscal_year_end"] == date(2021, 12, 31) and row["filed_date"] == date(2022, 5, 1)
    assert (row["revenue_cents"], row["net_income_cents"], row["total_assets_cents"]) == (
        123456789,
        -29,
        20099,
    )
    assert pd.isna(row["total_debt_cents"])
    assert (row["headcount"], row["duration_months"]) == (12, 12)


def test_bad_rows_quarantined_and_a_refiling_wins(tmp_path: Path) -> None:
    refiled = GOOD.replace("2022-05-01", "2022-07-01").replace("1234567.89", "1.00")
    path = write(
        tmp_path / "financials.csv",
        refiled,
        GOOD,
        "880878146;2021-12-31;2022-05-01;12;1;1;1;1;1;1;1",
        "880878145;2020-12-31;2020-06-01;12;1;1;1;1;1;1;1",
        "880878145;2019-12-31;2020-06-01;12;1,5;1;1;1;1;1;1",
        "880878145;2018-12-31;;99;1;1;1;1;1;1;1",
    )
    result = parse_file(path)
    assert (result.read, len(result.accepted), len(result.rejected), result.duplicates) == (6, 1, 4, 1)
    assert result.accepted.iloc[0]["revenue_cents"] == 100
    assert result.rejected.set_index("line")["field"].to_dict() == {
        4: "siren",
        5: "date_depot",
        6: "chiffre_affaires",
        7: "duree_exercice",
    }


def test_a_windows_1252_file_and_a_missing_column(tmp_path: Path) -> None:
    cp = write(tmp_path / "financials_cp.csv", GOOD, encoding="cp1252", header=HEADER + ";commentaire")
    assert len(parse_file(cp).accepted) == 1
    missing = write(tmp_path / "financials.csv", "x", header=HEADER.replace(";capitaux_propres", ""))
    with pytest.raises(FeedFileError, match="capitaux_propres"):
        parse_file(missing)
    with pytest.raises(FeedFileError, match="'effectif'"):
        parse(pd.DataFrame({c: ["1"] for c in REQUIRED if c != "effectif"}))


TEXT = st.one_of(st.text(max_size=12), st.sampled_from(["", "880878145", "2021-12-31", "12", "-0.5", "1e3"]))


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.fixed_dictionaries({c: TEXT for c in REQUIRED}), max_size=25))
def test_random_bad_rows_never_crash_and_always_reconcile(rows: list[dict[str, str]]) -> None:
    frame = pd.DataFrame(rows, columns=list(REQUIRED), dtype="object")
    result = parse(frame)
    assert result.read == len(rows) == len(result.accepted) + len(result.rejected) + result.duplicates
    assert not result.accepted.duplicated(["buyer_id", "fiscal_year_end"]).any()


def test_ingest_without_the_buyer_is_accepted_and_twice_changes_nothing(
    session: Session, tmp_path: Path
) -> None:
    path = write(tmp_path / "financials.csv", GOOD)
    report = financials_load.ingest(session, path)
    assert (report.read, report.accepted, report.quarantined) == (1, 1, 0)
    assert financials_load.ingest(session, path).already_ingested
    stored = session.execute(select(BuyerFinancials)).scalars().all()
    assert len(stored) == 1
    assert (stored[0].revenue_cents, stored[0].filed_date) == (123456789, date(2022, 5, 1))


def test_an_earlier_filing_arriving_later_does_not_overwrite(session: Session, tmp_path: Path) -> None:
    later = GOOD.replace("2022-05-01", "2022-07-01").replace("1234567.89", "1.00")
    financials_load.ingest(session, write(tmp_path / "financials_b.csv", later))
    report = financials_load.ingest(session, write(tmp_path / "financials_a.csv", GOOD))
    assert report.extra["older_than_stored"] == 1
    assert session.execute(text("SELECT revenue_cents FROM buyer_financials")).scalar_one() == 100


@settings(max_examples=60, deadline=None)
@given(
    st.decimals(
        min_value=-(10**13) + 1, max_value=10**13 - 1, places=2, allow_nan=False, allow_infinity=False
    )
)
def test_cents_are_exact_for_every_amount_the_layout_allows(amount: Decimal) -> None:
    cents, bad = to_cents(pd.Series([str(amount)]))
    assert not bad.iloc[0]
    assert cents.iloc[0] == int(amount * 100)
