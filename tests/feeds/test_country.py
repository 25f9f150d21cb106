"""Country feed (OECD country risk classification): wide and long layouts, only changes,
not classified as its own state, and the grade in force at a date."""

from __future__ import annotations

import itertools
from datetime import date
from pathlib import Path

import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import text
from sqlalchemy.orm import Session

from feeds.common import FeedFileError
from feeds.country import load as country_load
from feeds.country.parse import grade_at, parse, parse_file
from tests.conftest import SHARED_DATA

OECD = SHARED_DATA / "oecd" / "cre-crc-historical-internet-english.csv"
HIGH_INCOME_OECD = (
    "AU AT BE CA CL CZ DK EE FI FR DE GR HU IS IE IL IT JP KR LV LT LU NL NZ NO PL PT SK SI ES SE CH GB US"
)


@pytest.fixture(scope="module")
def oecd() -> pd.DataFrame:
    result = parse_file(OECD)
    assert result.read == 201 * 89 and result.rejected.empty
    return result.accepted


def test_the_real_table_gives_all_201_countries_as_changes_only(oecd: pd.DataFrame) -> None:
    assert oecd["country"].nunique() == 201
    russia = oecd[oecd["country"] == "RU"]
    assert russia["valid_from"].iloc[0] == date(1999, 1, 1)
    assert russia.iloc[-1][["valid_from", "category"]].tolist() == [date(2022, 3, 11), 7]
    # consecutive rows of a country always differ
    for _, history in oecd.groupby("country"):
        values = history["category"].fillna(-1).tolist()
        assert all(a != b for a, b in itertools.pairwise(values))


def test_grade_at_a_date_keeps_not_classified_apart_from_zero(oecd: pd.DataFrame) -> None:
    graded = grade_at(oecd, date(2022, 6, 1)).set_index("country")
    assert len(graded) == 201
    assert graded.loc["SG", "category"] == 0 and graded.loc["SG", "classified"]
    assert (graded.loc["TW", "category"], graded.loc["UA", "category"], graded.loc["RU", "category"]) == (
        1,
        6,
        7,
    )
    not_classified = graded[~graded["classified"]]
    assert set(HIGH_INCOME_OECD.split()) <= set(not_classified.index)
    assert not_classified["category"].isna().all()
    assert graded["category"].isna().loc["IL"]  # the '-3' footnote marker read as '-'
    before = grade_at(oecd, date(2022, 3, 10)).set_index("country")
    assert before.loc["RU", "category"] == 4
    assert grade_at(oecd, date(1998, 12, 31)).empty


def test_the_long_form_with_alpha2_and_alpha3_codes(tmp_path: Path) -> None:
    path = tmp_path / "oecd_long.csv"
    path.write_text(
        "country,category,valid_from\nFRA,-,2013-01-01\nFR,-,2014-01-01\nRU,4,2015-01-30\n"
        "RUS,7,2022-03-11\nZZZ,3,2020-01-01\nDE,9,2020-01-01\nDE,1,2020-02-30\n",
        encoding="utf-8",
    )
    result = parse_file(path)
    assert (result.read, len(result.accepted), len(result.rejected), result.duplicates) == (7, 3, 3, 1)
    assert result.rejected["field"].tolist() == ["country", "category", "valid_from"]
    assert result.accepted["country"].tolist() == ["FR", "RU", "RU"]


def test_a_bad_date_column_or_a_missing_iso_column_fails_the_whole_file(tmp_path: Path) -> None:
    bad = tmp_path / "oecd_bad.csv"
    bad.write_text(
        "Country Name (1),ISO,country name,01-Jan-99,someday\n1,FRA,France,0,0\n", encoding="utf-8"
    )
    with pytest.raises(FeedFileError, match="someday"):
        parse_file(bad)
    missing = tmp_path / "oecd_missing.csv"
    missing.write_text("Country Name (1),country name,01-Jan-99\n1,France,0\n", encoding="utf-8")
    with pytest.raises(FeedFileError, match="'ISO'"):
        parse_file(missing)


def test_a_frame_of_neither_layout_is_a_whole_file_error() -> None:
    with pytest.raises(FeedFileError, match="'ISO'"):
        parse(pd.DataFrame({"pays": ["FR"], "note": ["-"]}))


def test_a_windows_1252_wide_file(tmp_path: Path) -> None:
    path = tmp_path / "oecd.csv"
    path.write_bytes("Country Name (1);ISO;country name;01-Jan-99\n1;CIV;Côte d’Ivoire;6\n".encode("cp1252"))
    assert parse_file(path).accepted["country"].tolist() == ["CI"]


RECORD = st.fixed_dictionaries(
    {
        "country": st.one_of(st.text(max_size=4), st.sampled_from(["FR", "FRA", "XKV", "RUS"])),
        "category": st.one_of(st.text(max_size=3), st.sampled_from(["-", "-3", "0", "7", "8"])),
        "valid_from": st.one_of(
            st.text(max_size=10), st.sampled_from(["2020-01-01", "2021-02-30", "2022-03-11"])
        ),
    }
)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(RECORD, max_size=30))
def test_random_bad_records_never_crash_and_always_reconcile(rows: list[dict[str, str]]) -> None:
    result = parse(pd.DataFrame(rows, columns=["country", "category", "valid_from"], dtype="object"))
    assert result.read == len(rows) == len(result.accepted) + len(result.rejected) + result.duplicates


def grades(session: Session) -> list[tuple[str, str, int | None]]:
    rows = session.execute(text("SELECT country, valid_from, category FROM country_grade ORDER BY 1, 2"))
    return [(r[0], str(r[1]), r[2]) for r in rows]


def test_ingest_stores_only_changes_across_files_and_twice_changes_nothing(
    session: Session, tmp_path: Path
) -> None:
    report = country_load.ingest(session, OECD)
    assert (report.read, report.quarantined) == (201 * 89, 0)
    stored = len(grades(session))
    assert stored == report.accepted
    assert country_load.ingest(session, OECD).already_ingested
    late = tmp_path / "oecd_long.csv"
    late.write_text("country,category,valid_from\nFR,-,2020-01-01\nRU,7,2023-01-01\nRU,5,2024-01-01\n")
    country_load.ingest(session, late)
    after = grades(session)
    assert len(after) == stored + 1  # FR unchanged, RU 7 repeated, RU 5 new
    assert ("RU", "2024-01-01", 5) in after and ("RU", "2023-01-01", 7) not in after


WIDE_ROW = st.fixed_dictionaries(
    {
        "ISO": st.one_of(st.text(max_size=4), st.sampled_from(["FRA", "RUS", "XKV", "ISR"])),
        "01-Jan-99": st.one_of(st.text(max_size=3), st.sampled_from(["-", "-3", "0", "7"])),
        "11-Mar-22": st.one_of(st.text(max_size=3), st.sampled_from(["-", "4", "7"])),
    }
)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(WIDE_ROW, max_size=20))
def test_random_wide_rows_reconcile_cell_by_cell(rows: list[dict[str, str]]) -> None:
    frame = pd.DataFrame(rows, columns=["ISO", "01-Jan-99", "11-Mar-22"], dtype="object")
    result = parse(frame)
    assert result.read == 2 * len(rows) == len(result.accepted) + len(result.rejected) + result.duplicates
