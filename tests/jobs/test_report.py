"""Seed-002 indicators on small frames computed by hand."""

from __future__ import annotations

import math

import pandas as pd
import pytest

from jobs.report import indicators as ind
from jobs.report.build import indicators_of


def amounts(rows: list[tuple[str, float | None, int]], unknown: tuple[str, ...] = ()) -> pd.DataFrame:
    stock = pd.DataFrame([(c, a) for c, _, a in rows], columns=["country", "amount_cents"])
    grades = pd.DataFrame([(c, g) for c, g, _ in rows if c not in unknown], columns=["country", "category"])
    return ind.with_grades(stock, grades)


def test_index_weights_category_i_by_i_and_category_zero_by_one() -> None:
    # 100 in cat 0 (w 1), 100 in cat 3 (w 3), 200 in cat 7 (w 7): (100 + 300 + 1400) / 400 = 4.5
    result = ind.country_risk_index(amounts([("US", 0, 100), ("BR", 3, 100), ("VE", 7, 200)]))
    assert result["index"] == 4.5
    assert result["unknown_share"] == 0


def test_not_classified_countries_weigh_like_category_zero() -> None:
    # FR not classified (w 1) 300, TR cat 5 100: (300 + 500) / 400 = 2.0
    assert ind.country_risk_index(amounts([("FR", None, 300), ("TR", 5, 100)]))["index"] == 2.0


def test_countries_without_any_grade_row_are_left_out_and_reported() -> None:
    result = ind.country_risk_index(amounts([("FR", None, 300), ("XX", 7, 100)], unknown=("XX",)))
    assert result["index"] == 1.0
    assert result["unknown_share"] == 0.25


def test_an_empty_portfolio_has_no_index() -> None:
    assert ind.country_risk_index(amounts([]))["index"] is None
    assert ind.in_band(None) is None
    assert ind.in_band(2.0) and ind.in_band(4.5) and not ind.in_band(4.51)


def test_grades_in_force_take_the_latest_valid_from() -> None:
    from datetime import date

    raw = pd.DataFrame(
        {
            "country": ["BR", "BR", "FR"],
            "valid_from": [date(2020, 1, 1), date(2024, 1, 1), date(2020, 1, 1)],
            "category": [3, 4, None],
        }
    )
    got = ind.grades_in_force(raw).set_index("country")["category"]
    assert got["BR"] == 4 and math.isnan(got["FR"])


def test_good_and_less_good_shares_of_amount_and_count() -> None:
    by_rating = pd.DataFrame(
        {
            "rating": ["AA", "BBB-", "BB+", "CCC+", "CCC", "D", None],
            "buyers": [1, 1, 1, 1, 2, 1, 3],
            "amount_cents": [100, 100, 200, 100, 300, 100, 100],
        }
    )
    shares = ind.risk_shares(by_rating)
    assert shares["good_risk_share"] == {"amount": 0.2, "count": 0.2}  # AA + BBB- = 200/1000, 2/10
    # CCC+ is intermediate; CCC and D are less good: 400/1000, 3/10
    assert shares["less_good_risk_share"] == {"amount": 0.4, "count": 0.3}


def test_no_cover_gives_no_share() -> None:
    empty = pd.DataFrame({"rating": [], "buyers": [], "amount_cents": []})
    assert ind.risk_shares(empty)["good_risk_share"] == {"amount": None, "count": None}


def decisions() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "decision_id": [1, 2, 3, 4, 5],
            "decision_type": [9, 8, 2, 5, 9],
            "status": ["applied", "approved", "applied", "amended", "referred"],
            "previous_cents": [1000, 500, 0, 0, 800],
            "proposed_cents": [400, 0, 700, 300, 100],
            "final_cents": [None, None, None, 200, None],
            "desk": ["auto", "auto", "meat", None, "meat"],
            "buyer_id": ["a", "b", "c", "d", "e"],
            "buyer_country": ["FR", "FR", "BR", "US", "FR"],
        }
    )


def test_decision_counts_and_exposure_removed_skip_nothing_but_referred_removal() -> None:
    frame = decisions()
    assert ind.decision_counts(frame) == {"2": 1, "5": 1, "8": 1, "9": 2}
    # removed: 1000-400 + 500-0 = 1100; the referred reduction has removed nothing yet
    assert ind.exposure_removed(frame) == {"amount_cents": 1100, "decisions": 2}


def test_flow_is_the_covers_granted_by_final_decisions() -> None:
    flow = ind.flow_amounts(decisions()).set_index("country")["amount_cents"].to_dict()
    assert flow == {"BR": 700, "US": 200}  # the arbiter's amended 200, not the proposed 300


def test_biggest_movers_by_absolute_change() -> None:
    movers = ind.biggest_movers(decisions(), n=3)
    assert movers["buyer_id"].tolist() == ["c", "e", "a"]  # a tie is broken by decision id
    assert movers["change_cents"].tolist() == [700, -700, -600]


@pytest.mark.parametrize(
    "key", ["country_risk_index", "good_risk_share", "less_good_risk_share", "decisions", "exposure_removed"]
)
def test_indicators_of_gives_the_report_keys(key: str) -> None:
    grades = pd.DataFrame({"country": ["FR", "BR", "US"], "category": [None, 3, 0]})
    stock = pd.DataFrame({"country": ["FR", "BR"], "amount_cents": [300, 100]})
    by_rating = pd.DataFrame({"rating": ["A"], "buyers": [2], "amount_cents": [400]})
    data = indicators_of(stock_by_country=stock, grades=grades, by_rating=by_rating, decisions=decisions())
    assert key in data
    assert data["country_risk_index"]["stock"] == 1.5  # (300 x 1 + 100 x 3) / 400
    assert data["country_risk_index"]["flow"] == round((700 * 3 + 200 * 1) / 900, 4)
