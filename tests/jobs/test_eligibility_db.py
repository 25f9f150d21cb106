"""Eligibility read from and written to the database, on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import date

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from config.settings import CONFIG_DIR
from jobs.eligibility import compute, eligibility_inputs, load_scheme_params, persist
from models import Eligibility
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
