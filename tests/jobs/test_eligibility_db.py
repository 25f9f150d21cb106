"""Eligibility read from and written to the database, on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import date, timedelta

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from config.settings import CONFIG_DIR
from jobs.eligibility import compute, eligibility_inputs, load_scheme_params, persist
from models import Eligibility
from models.score import Score
from tests.jobs.test_notify_seed import AS_OF, seed_portfolio

PARAMS = load_scheme_params(CONFIG_DIR / "schemes.yaml")


def test_inputs_join_what_compute_needs_and_skip_referred_decisions(session: Session) -> None:
    seed_portfolio(session)
    inputs = eligibility_inputs(session, business_date=AS_OF).set_index("decision_id")
    assert sorted(inputs.index) == [1, 2, 3, 4]  # decision 5 is still referred
    assert bool(inputs.loc[2, "collective_procedure"]) is True
    assert bool(inputs.loc[1, "collective_procedure"]) is False
    assert inputs.loc[3, "buyer_country"] == "DE"
    assert inputs.loc[4, "requested_cents"] == 100_000_00
    assert inputs.loc[1, "grade"] == 3
    assert inputs.loc[1, "policyholder_size"] == "PME"


def test_the_grade_is_the_latest_score_of_the_buyer_even_if_not_scored_on_the_latest_date(
    session: Session,
) -> None:
    """The grade comes from the latest score date (one key seek); a buyer without a score on
    that date keeps its own latest one."""
    seed_portfolio(session)
    later = AS_OF - timedelta(days=1)  # still on or before the business date
    session.execute(update(Score).where(Score.buyer_id == "732829320").values(as_of=later, grade=7))
    session.add(
        Score(
            buyer_id="US-1",
            as_of=later - timedelta(days=1),
            role="champion",
            pd_12m=0.5,
            grade=9,
            rating="C",
            model_name="m",
            model_version="1",
        )
    )
    session.flush()
    inputs = eligibility_inputs(session, business_date=AS_OF).set_index("decision_id")
    assert inputs.loc[1, "grade"] == 7  # no score on AS_OF: its own latest (the day before)
    assert inputs.loc[4, "grade"] == 2  # scored on AS_OF: that score, not the older 9


def test_a_legal_event_after_the_date_does_not_count(session: Session) -> None:
    seed_portfolio(session)
    inputs = eligibility_inputs(session, business_date=date(2026, 9, 1))
    assert inputs.empty  # the decisions are later than this date


def test_persist_is_idempotent_on_decision_and_scheme(session: Session) -> None:
    seed_portfolio(session)
    frame = compute(eligibility_inputs(session, business_date=AS_OF), params=PARAMS, as_of=AS_OF)
    assert persist(session, frame) == len(frame)
    persist(session, frame)
    session.commit()
    count = session.scalar(select(func.count()).select_from(Eligibility))
    assert count == len(frame)
    oal = session.scalars(
        select(Eligibility).where(Eligibility.decision_id == 1, Eligibility.scheme == "OAL")
    ).one()
    assert oal.eligible and oal.deadline == date(2026, 11, 25)
    cap = session.scalars(
        select(Eligibility).where(Eligibility.decision_id == 1, Eligibility.scheme == "CAP")
    ).one()
    assert cap.eligible and cap.amount_cents == 40_000_00
    insolvent = session.scalars(select(Eligibility).where(Eligibility.decision_id == 2)).all()
    assert {e.scheme for e in insolvent} == {"OAL", "CAP_PLUS"}
    assert not any(e.eligible for e in insolvent)
