"""OAL deadlines and CAP-family eligibility on small hand-made frames (pure, no database)."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pandas as pd
import pytest

from config.settings import CONFIG_DIR
from jobs.eligibility import INPUT_COLUMNS, SchemeParamsError, compute, load_scheme_params
from models.codes import ResponseType

PARAMS = load_scheme_params(CONFIG_DIR / "schemes.yaml")
EUR = 100


def decision(**overrides: object) -> dict[str, object]:
    row: dict[str, object] = {
        "decision_id": 1,
        "decision_type": int(ResponseType.REDUCTION),
        "previous_cents": 100_000 * EUR,
        "proposed_cents": 40_000 * EUR,
        "final_cents": None,
        "requested_cents": None,
        "oal_option": True,
        "buyer_country": "FR",
        "collective_procedure": False,
        "policyholder_revenue_cents": 50_000_000 * EUR,
        "policyholder_size": "PME",
        "grade": 3,
    }
    row.update(overrides)
    return row


def run(*rows: dict[str, object], as_of: date = date(2026, 11, 10)) -> pd.DataFrame:
    frame = pd.DataFrame(list(rows), columns=INPUT_COLUMNS)
    return compute(frame, params=PARAMS, as_of=as_of)


def one(result: pd.DataFrame, scheme: str) -> pd.Series:
    rows = result[result["scheme"] == scheme]
    assert len(rows) == 1, result
    return rows.iloc[0]


def test_a_reduction_notified_on_the_10th_must_be_declared_by_the_25th() -> None:
    oal = one(run(decision()), "OAL")
    assert oal["eligible"]
    assert oal["deadline"] == date(2026, 11, 25)


def test_the_oal_deadline_counts_calendar_days_across_a_month_end() -> None:
    assert one(run(decision(), as_of=date(2026, 12, 20)), "OAL")["deadline"] == date(2027, 1, 4)


def test_no_oal_without_the_policy_option() -> None:
    oal = one(run(decision(oal_option=False)), "OAL")
    assert not oal["eligible"]
    assert oal["reason"] == "policy_without_oal_option"
    assert oal["deadline"] is None


def test_an_insolvent_buyer_is_never_eligible_to_anything() -> None:
    rows = run(
        decision(decision_id=1, collective_procedure=True),
        decision(
            decision_id=2,
            decision_type=int(ResponseType.CANCELLATION),
            proposed_cents=0,
            collective_procedure=True,
        ),
        decision(decision_id=3, buyer_country="DE", collective_procedure=True),
        as_of=date(2021, 6, 1),
    )
    assert len(rows) == 6
    assert not rows["eligible"].any()
    assert set(rows["reason"]) == {"buyer_in_collective_procedure"}


def test_an_approval_gives_no_scheme_row() -> None:
    assert run(
        decision(decision_type=int(ResponseType.APPROVED), previous_cents=0, proposed_cents=10_000 * EUR)
    ).empty


def test_cap_top_up_is_at_most_the_amount_kept() -> None:
    cap = one(run(decision(previous_cents=100_000 * EUR, proposed_cents=30_000 * EUR)), "CAP")
    assert cap["eligible"]
    assert cap["amount_cents"] == 30_000 * EUR  # kept 30k, lost 70k: top-up 30k (cover at most doubled)
    assert cap["parameter_set"] == "CAP@2021-01-01"


def test_cap_top_up_never_exceeds_what_was_lost() -> None:
    cap = one(run(decision(previous_cents=100_000 * EUR, proposed_cents=90_000 * EUR)), "CAP")
    assert cap["amount_cents"] == 10_000 * EUR


def test_an_arbiters_final_amount_wins_over_the_proposal() -> None:
    cap = one(run(decision(proposed_cents=40_000 * EUR, final_cents=70_000 * EUR)), "CAP")
    assert cap["amount_cents"] == 30_000 * EUR


def test_in_2020_a_large_company_is_not_eligible_but_from_2021_it_is() -> None:
    big = decision(policyholder_size="GE", policyholder_revenue_cents=3_000_000_000 * EUR)
    assert one(run(big, as_of=date(2020, 6, 1)), "CAP")["reason"] == "policyholder_size_not_eligible"
    assert one(run(big, as_of=date(2021, 6, 1)), "CAP")["eligible"]


def test_in_2020_an_eti_above_one_and_a_half_billion_is_not_eligible() -> None:
    eti = decision(policyholder_size="ETI", policyholder_revenue_cents=1_500_000_000 * EUR)
    assert one(run(eti, as_of=date(2020, 6, 1)), "CAP")["reason"] == "policyholder_revenue_too_high"


def test_before_the_2020_scheme_there_is_no_parameter_set() -> None:
    cap = one(run(decision(), as_of=date(2019, 6, 1)), "CAP")
    assert not cap["eligible"]
    assert cap["reason"] == "no_parameter_set_at_date"


def test_export_top_up_reaches_twice_the_kept_amount_from_2021_only() -> None:
    export = decision(buyer_country="DE", previous_cents=100_000 * EUR, proposed_cents=30_000 * EUR)
    in_2020 = one(run(export, as_of=date(2020, 6, 1)), "CAP_FRANCEXPORT")
    in_2021 = one(run(export, as_of=date(2021, 6, 1)), "CAP_FRANCEXPORT")
    assert in_2020["amount_cents"] == 30_000 * EUR
    assert in_2021["amount_cents"] == 60_000 * EUR


def test_partial_approval_tops_up_towards_the_requested_amount() -> None:
    partial = decision(
        buyer_country="US",
        decision_type=int(ResponseType.PARTLY_APPROVED),
        previous_cents=0,
        proposed_cents=30_000 * EUR,
        requested_cents=100_000 * EUR,
    )
    assert one(run(partial, as_of=date(2021, 6, 1)), "CAP_FRANCEXPORT")["amount_cents"] == 60_000 * EUR


def test_the_permanent_export_scheme_excludes_the_eu_and_nine_oecd_countries() -> None:
    for country, expected in (("DE", False), ("US", False), ("JP", False), ("BR", True), ("CL", True)):
        row = one(run(decision(buyer_country=country), as_of=date(2026, 11, 10)), "CAP_FRANCEXPORT")
        assert bool(row["eligible"]) is expected, (country, row["reason"])


def test_in_2021_export_countries_are_the_eu_and_high_income_oecd() -> None:
    assert one(run(decision(buyer_country="DE"), as_of=date(2021, 6, 1)), "CAP_FRANCEXPORT")["eligible"]
    brazil = one(run(decision(buyer_country="BR"), as_of=date(2021, 6, 1)), "CAP_FRANCEXPORT")
    assert brazil["reason"] == "buyer_country_not_eligible"


def test_cap_plus_export_substitute_is_capped_by_risk_category() -> None:
    cancelled = {"decision_type": int(ResponseType.CANCELLATION), "proposed_cents": 0, "buyer_country": "DE"}
    as_of = date(2021, 6, 1)
    cat1 = one(
        run(decision(**cancelled, previous_cents=900_000 * EUR, grade=2), as_of=as_of), "CAP_PLUS_FRANCEXPORT"
    )
    cat2 = one(
        run(decision(**cancelled, previous_cents=900_000 * EUR, grade=6), as_of=as_of), "CAP_PLUS_FRANCEXPORT"
    )
    cat3 = one(
        run(decision(**cancelled, previous_cents=900_000 * EUR, grade=9), as_of=as_of), "CAP_PLUS_FRANCEXPORT"
    )
    small = one(
        run(decision(**cancelled, previous_cents=80_000 * EUR, grade=2), as_of=as_of), "CAP_PLUS_FRANCEXPORT"
    )
    assert cat1["amount_cents"] == 500_000 * EUR
    assert cat2["amount_cents"] == 250_000 * EUR
    assert not cat3["eligible"] and cat3["reason"] == "buyer_risk_category_not_covered"
    assert small["amount_cents"] == 80_000 * EUR  # never more than what was lost


def test_cap_plus_domestic_after_a_refusal_covers_up_to_200k_for_category_one() -> None:
    refused = decision(
        decision_type=int(ResponseType.NOT_APPROVED),
        previous_cents=0,
        proposed_cents=0,
        requested_cents=500_000 * EUR,
        grade=1,
    )
    row = one(run(refused, as_of=date(2020, 6, 1)), "CAP_PLUS")
    assert row["eligible"] and row["amount_cents"] == 200_000 * EUR
    assert "OAL" not in set(run(refused)["scheme"])  # a refusal is not a reduction: no OAL


def test_a_buyer_without_a_score_gets_no_substitute() -> None:
    row = one(
        run(decision(decision_type=int(ResponseType.CANCELLATION), proposed_cents=0, grade=None)), "CAP_PLUS"
    )
    assert row["reason"] == "buyer_risk_category_unknown"


def test_a_reduction_to_zero_is_treated_as_a_cancellation_for_the_schemes() -> None:
    result = run(decision(proposed_cents=0))
    assert set(result["scheme"]) == {"OAL", "CAP_PLUS"}


def test_compute_does_not_modify_its_input_and_ignores_row_order() -> None:
    frame = pd.DataFrame([decision(decision_id=i, proposed_cents=i * 10_000 * EUR) for i in range(1, 6)])
    copy = frame.copy()
    forward = compute(frame, params=PARAMS, as_of=date(2026, 11, 10))
    backward = compute(frame.iloc[::-1], params=PARAMS, as_of=date(2026, 11, 10))
    pd.testing.assert_frame_equal(frame, copy)
    pd.testing.assert_frame_equal(forward, backward)


def test_a_missing_input_column_is_named() -> None:
    with pytest.raises(ValueError, match="grade"):
        compute(pd.DataFrame([decision()]).drop(columns=["grade"]), params=PARAMS, as_of=date(2026, 1, 1))


def test_a_bad_parameter_file_names_the_field(tmp_path: Path) -> None:
    bad = tmp_path / "schemes.yaml"
    bad.write_text(
        (CONFIG_DIR / "schemes.yaml").read_text().replace("topup_multiple: 2", "topup_multiple: two")
    )
    with pytest.raises(SchemeParamsError, match="topup_multiple"):
        load_scheme_params(bad)
