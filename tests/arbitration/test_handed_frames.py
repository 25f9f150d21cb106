"""Arbitration fed with the score step's frames builds exactly the limit frame it would build
from the database (the nightly hands them over to save reading a million rows back)."""

from __future__ import annotations

from datetime import date, timedelta

import pandas as pd
from sqlalchemy.orm import Session

from arbitration.inputs import load_frame
from models.db import read_frame
from models.payment_aggregate import PaymentAggregate
from models.score import Score
from scoring.dataset import read_inputs
from scoring.service import ScoringFrames
from tests.arbitration.portfolio import AS_OF, seed_portfolio


def _frames(session: Session) -> ScoringFrames:
    """What the score step holds tonight: a buyer with no score or aggregate of tonight in the
    database has none in these frames either."""
    inputs = read_inputs(session, as_of=AS_OF, payment_dates=[AS_OF])
    scores = read_frame(
        session,
        "SELECT buyer_id, pd_12m, grade, rating, model_name, model_version, reason_codes FROM score "
        "WHERE as_of = :d AND role = 'champion'",
        {"d": AS_OF},
    )
    return ScoringFrames(AS_OF, inputs.buyers, inputs.financials, inputs.payments, scores)


def test_the_frame_from_the_handed_frames_is_the_frame_from_the_database(session) -> None:  # type: ignore[no-untyped-def]
    seed_portfolio(session)
    session.commit()
    pd.testing.assert_frame_equal(
        load_frame(session, as_of=AS_OF, known=_frames(session)), load_frame(session, as_of=AS_OF)
    )


def test_a_buyer_not_scored_tonight_keeps_its_latest_earlier_score(session) -> None:  # type: ignore[no-untyped-def]
    seed_portfolio(session)
    session.add(
        Score(
            buyer_id="100000003",
            as_of=AS_OF - timedelta(days=1),
            role="champion",
            pd_12m=0.2,
            grade=8,
            rating="B-",
            model_name="vigie-buyer-pd",
            model_version="2",
            reason_codes="DBT",
        )
    )
    session.commit()
    session.execute(Score.__table__.delete().where(Score.buyer_id == "100000003", Score.as_of == AS_OF))
    session.commit()
    handed = load_frame(session, as_of=AS_OF, known=_frames(session))
    pd.testing.assert_frame_equal(handed, load_frame(session, as_of=AS_OF))
    assert set(handed.loc[handed["buyer_id"] == "100000003", "grade"]) == {8}


def test_frames_of_another_date_are_not_used(session) -> None:  # type: ignore[no-untyped-def]
    seed_portfolio(session)
    session.commit()
    frames = _frames(session)
    # frames that would change the limit frame if they were used
    stale = ScoringFrames(
        date(2026, 1, 1),
        frames.buyers,
        frames.financials,
        frames.payments.assign(days_beyond_terms=999.0),
        frames.scores.assign(grade=1, rating="AAA"),
    )
    pd.testing.assert_frame_equal(
        load_frame(session, as_of=AS_OF, known=stale), load_frame(session, as_of=AS_OF)
    )


def test_a_buyer_without_payments_tonight_ignores_an_earlier_aggregate(session) -> None:  # type: ignore[no-untyped-def]
    """Tonight's aggregates hold every invoice of the year and every older unpaid one: an
    earlier aggregate of a buyer absent tonight would only bring back aged-out invoices."""
    seed_portfolio(session)
    session.commit()
    moved = {"d": AS_OF, "before": AS_OF - timedelta(days=3)}
    session.execute(
        PaymentAggregate.__table__.update()
        .where(PaymentAggregate.buyer_id == "100000003", PaymentAggregate.as_of == moved["d"])
        .values(as_of=moved["before"])
    )
    session.commit()
    handed = load_frame(session, as_of=AS_OF, known=_frames(session))
    pd.testing.assert_frame_equal(handed, load_frame(session, as_of=AS_OF))
    assert handed.loc[handed["buyer_id"] == "100000003", "days_beyond_terms"].isna().all()
    others = handed.loc[handed["buyer_id"] != "100000003", "days_beyond_terms"]
    assert others.notna().any()
    # on the date of that earlier aggregate, it is the latest there is: it is used
    earlier = load_frame(session, as_of=moved["before"])
    assert set(earlier.loc[earlier["buyer_id"] == "100000003", "days_beyond_terms"]) == {70.0}


def test_the_latest_account_per_buyer_is_its_latest_year_end_first_on_a_tie() -> None:
    from arbitration.inputs import _latest_rows

    keys = pd.Series(["A", "B", "A", "C", "B", "A", "B"], dtype="str")
    ends = pd.Series(
        [
            date(2024, 12, 31),
            date(2023, 12, 31),
            date(2025, 12, 31),
            None,
            date(2025, 6, 30),
            None,
            date(2025, 6, 30),
        ],
        dtype=object,
    )
    # A: the 2025 account (row 2); B: two accounts closing 2025-06-30, the first (row 4); C: none
    assert sorted(_latest_rows(keys, ends).tolist()) == [2, 4]
    assert _latest_rows(keys.iloc[0:0], ends.iloc[0:0]).tolist() == []
