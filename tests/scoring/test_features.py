"""Features are pure and see only what was known at the as-of date."""

from __future__ import annotations

from datetime import date

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from scoring.features import BUYER_FEATURES, EXTRA_COLUMNS, _last_two_per_key, build_features, naf_section
from tests.scoring.fakes import portfolio

AS_OF = date(2026, 6, 30)


@pytest.fixture(scope="module")
def frames() -> dict[str, pd.DataFrame]:
    return portfolio(60, as_of=AS_OF, seed=3)


def _build(frames: dict[str, pd.DataFrame], as_of: date = AS_OF) -> pd.DataFrame:
    return build_features(
        frames["buyer"],
        frames["buyer_financials"],
        frames["legal_event"],
        frames["payment_aggregate"],
        frames["country_grade"],
        as_of=as_of,
    )


def test_one_row_per_buyer_with_every_model_feature(frames):
    features = _build(frames)
    assert list(features.columns) == [*BUYER_FEATURES.names, *EXTRA_COLUMNS]
    assert features.index.is_unique and len(features) == 60
    assert features["equity_ratio"].between(-2, 1).all()
    assert set(features["naf_section"]) <= {"C", "F", "G", "J"}
    assert (features[list(BUYER_FEATURES.categorical)] != None).all().all()  # noqa: E711


def test_future_rows_in_any_input_change_nothing(frames):
    """No look-ahead: accounts filed, events published, grades and payments dated after the
    as-of date are invisible."""
    before = _build(frames)
    later = {k: v.copy() for k, v in frames.items()}
    buyer = later["buyer"]["buyer_id"].iloc[0]
    later["buyer_financials"] = pd.concat(
        [
            later["buyer_financials"],
            pd.DataFrame(
                {
                    "buyer_id": [buyer],
                    "fiscal_year_end": [date(2026, 3, 31)],
                    "filed_date": [date(2026, 7, 1)],
                    "revenue_cents": [1],
                    "equity_cents": [-(10**12)],
                    "total_assets_cents": [10],
                    "net_income_cents": [-(10**9)],
                    "total_debt_cents": [10**12],
                    "operating_income_cents": [-5],
                    "headcount": [1],
                }
            ),
        ]
    )
    later["legal_event"] = pd.concat(
        [
            later["legal_event"],
            pd.DataFrame(
                {
                    "notice_id": ["future-1", "future-2"],
                    "buyer_id": [buyer, buyer],
                    "event_type": ["open_lj", "sanction"],
                    "event_date": [date(2026, 6, 20), date(2026, 6, 1)],
                    "publication_date": [date(2026, 7, 2), date(2026, 7, 3)],
                    "accounts_closing_date": [None, None],
                    "cancelled": [False, False],
                }
            ),
        ]
    )
    later["country_grade"] = pd.concat(
        [
            later["country_grade"],
            pd.DataFrame({"country": ["BR"], "valid_from": [date(2026, 7, 1)], "category": [7]}),
        ]
    )
    pay = later["payment_aggregate"]
    future_pay = pay[pd.to_datetime(pay["as_of"]) == pd.Timestamp(AS_OF)].assign(
        as_of=date(2026, 7, 31), days_beyond_terms=999.0
    )
    later["payment_aggregate"] = pd.concat([pay, future_pay])
    after = _build(later)
    pd.testing.assert_frame_equal(before, after)
    # and the same rows DO count once their dates are reached
    moved = _build(later, date(2026, 7, 31))
    assert moved.loc[buyer, "collective_procedure"]
    assert moved.loc[buyer, "days_beyond_terms"] == 999.0


def test_inputs_are_not_modified(frames):
    copies = {k: v.copy() for k, v in frames.items()}
    _build(frames)
    for key, frame in frames.items():
        pd.testing.assert_frame_equal(frame, copies[key])


def _one_buyer(**events: list) -> dict[str, pd.DataFrame]:
    buyer = pd.DataFrame(
        {
            "buyer_id": ["X"],
            "country": ["FR"],
            "naf_code": ["4711Z"],
            "legal_category": ["5710"],
            "creation_date": [date(2010, 1, 1)],
            "headcount_band": [None],
            "size_category": [None],
        }
    )
    empty_fin = pd.DataFrame(
        columns=[
            "buyer_id",
            "fiscal_year_end",
            "filed_date",
            "revenue_cents",
            "equity_cents",
            "total_assets_cents",
            "net_income_cents",
            "total_debt_cents",
            "operating_income_cents",
        ]
    )
    ev = pd.DataFrame(
        {
            "buyer_id": "X",
            "event_type": events.get("types", []),
            "event_date": events.get("dates", []),
            "publication_date": events.get("dates", []),
            "cancelled": events.get("cancelled", [False] * len(events.get("types", []))),
        }
    )
    pay = pd.DataFrame(columns=["buyer_id", "as_of", "days_beyond_terms", "overdue_share", "overdue_declarations",
                                "dbt_trend_3m", "dbt_trend_12m", "reporting_policyholders", "amount_cents"])  # fmt: skip
    grades = pd.DataFrame({"country": ["FR"], "valid_from": [date(2000, 1, 1)], "category": [None]})
    return {"buyer": buyer, "buyer_financials": empty_fin, "legal_event": ev, "payment_aggregate": pay,
            "country_grade": grades}  # fmt: skip


def test_an_opening_followed_by_a_plan_is_no_longer_an_open_procedure():
    frames = _one_buyer(types=["open_rj", "plan"], dates=[date(2024, 1, 10), date(2024, 9, 1)])
    row = _build(frames).loc["X"]
    assert not row["collective_procedure"]
    assert row["prior_procedure_5y"] == 1
    assert row["judgments_12m"] == 0  # the plan is more than 12 months old


def test_a_cancelled_opening_does_not_count():
    frames = _one_buyer(types=["open_lj"], dates=[date(2026, 1, 10)], cancelled=[True])
    assert not _build(frames).loc["X", "collective_procedure"]


def test_old_company_without_accounts_has_late_accounts_and_unclassified_country():
    row = _build(_one_buyer()).loc["X"]
    assert row["late_accounts"] == 1
    assert pd.isna(row["accounts_age_months"])
    assert pd.isna(row["oecd_category"]) and row["oecd_not_classified"] == 1
    assert row["naf_division"] == "47" and row["naf_section"] == "G"
    assert row["size_category"] == "unknown"


def test_country_grades_per_buyer_and_the_last_of_repeated_rows(frames):
    """The country features of each case (graded, graded 0, not classified, not in the OECD
    list, no country), and a buyer or payment row given twice: the last one counts."""
    buyers = frames["buyer"].head(5).assign(country=["DE", "FR", "KP", "ZZ", None])
    ids = buyers["buyer_id"].tolist()
    grades = pd.DataFrame(
        {
            "country": ["DE", "FR", "KP", "DE"],
            "valid_from": [date(2000, 1, 1)] * 3 + [date(2027, 1, 1)],  # DE's 2027 grade: unseen
            "category": [3.0, 0.0, None, 7.0],
        }
    )
    earlier = buyers.iloc[[1]].assign(naf_code="10.11Z")  # given before the row that counts
    payments = frames["payment_aggregate"]
    payments = payments[~((payments["buyer_id"] == ids[0]) & (payments["as_of"] == AS_OF))]
    twice = pd.concat([payments[payments["buyer_id"] == ids[0]].tail(1)] * 2, ignore_index=True)
    twice = twice.assign(as_of=AS_OF, days_beyond_terms=[999.0, 5.0])
    given = {
        **frames,
        "buyer": pd.concat([earlier, buyers], ignore_index=True),
        "country_grade": grades,
        "payment_aggregate": pd.concat([payments, twice], ignore_index=True),
    }
    features = _build(given)
    assert len(features) == 5 and features.index.tolist() == ids
    np.testing.assert_array_equal(features["oecd_category"], [3.0, 0.0, np.nan, np.nan, np.nan])
    np.testing.assert_array_equal(features["oecd_not_classified"], [0.0, 0.0, 1.0, np.nan, np.nan])
    assert features.loc[ids[1], "naf_section"] == _build(frames).loc[ids[1], "naf_section"] != "C"
    assert features.loc[ids[0], "days_beyond_terms"] == 5.0


def test_naf_sections_follow_insee_division_ranges():
    got = naf_section(pd.Series(["01", "10", "33", "35", "47", "99", "00", None], dtype=object))
    assert got.tolist() == ["A", "C", "C", "D", "G", "U", "unknown", "unknown"]


def test_per_buyer_parts_are_aligned_exactly_as_pandas_reindexes_them() -> None:
    from scoring.features import _align

    part = pd.DataFrame(
        {
            "count": [3, 1, 4],
            "flag": [True, False, True],
            "ratio": [0.5, np.nan, 2.0],
            "label": ["x", "y", None],
            "day": pd.to_datetime(["2024-01-31", "2023-12-31", None]),
        },
        index=pd.Index(["B2", "B1", "B4"], name="buyer_id", dtype="str"),
    )
    wanted = pd.Index(["B1", "B2", "B3", "B5"], name="buyer_id", dtype="str")
    pd.testing.assert_frame_equal(_align(part, wanted), part.reindex(wanted))
    everyone = pd.Index(["B4", "B2", "B1"], name="buyer_id", dtype="str")  # all present, another order
    pd.testing.assert_frame_equal(_align(part, everyone), part.reindex(everyone))


@settings(max_examples=200, deadline=None)
@given(
    st.lists(
        # years outside 1677-2262 too: a feed can carry them, and nanoseconds cannot hold them
        st.tuples(
            st.sampled_from(["A", "B", "C", "D"]),
            st.one_of(st.none(), st.sampled_from([1025, 2020, 2021, 2022, 2023, 2999])),
        ),
        max_size=30,
    )
)
def test_the_last_two_accounts_per_buyer_are_those_a_date_sort_finds(
    rows: list[tuple[str, int | None]],
) -> None:
    """Against the plain pandas spelling: sort by date (stable, missing last), keep the last row
    per buyer, then the last of the rest. Ties and missing dates included."""
    frame = pd.DataFrame(
        {
            "buyer_id": pd.Series([k for k, _ in rows], dtype="str"),
            "fiscal_year_end": pd.to_datetime(
                [None if d is None else f"{d}-12-31" for _, d in rows], errors="coerce"
            ),
        }
    )
    ordered = frame.sort_values("fiscal_year_end", kind="stable")
    latest = ordered.drop_duplicates("buyer_id", keep="last")
    previous = ordered.drop(index=latest.index).drop_duplicates("buyer_id", keep="last")
    last, before_last = _last_two_per_key(frame["buyer_id"], frame["fiscal_year_end"])
    assert sorted(last.tolist()) == sorted(latest.index.tolist())
    assert sorted(before_last.tolist()) == sorted(previous.index.tolist())
