"""Eligibility and e-mails computed in a thread while arbitration writes its decisions
(:mod:`jobs.ahead`): the ids they use are proven by the insert, and a failure in the thread
fails the step that needs its result. (That they write the same rows as the steps run one
after the other: tests/jobs/test_handed_tonight.py.)"""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import Engine, insert
from sqlalchemy.orm import Session, sessionmaker

from arbitration import service
from arbitration.handover import DecidedTonight
from config.settings import Settings
from jobs import eligibility, steps
from jobs.nightly import NightContext
from models.db import ChangedMeanwhile, read_frame
from models.decision import Decision
from tests.arbitration.portfolio import AS_OF, EUR, seed_portfolio


def _a_decision_of_tomorrow() -> dict[str, object]:
    return {
        "limit_id": 3,
        "business_date": AS_OF + timedelta(days=1),
        "policy_id": "P1",
        "buyer_id": "100000002",
        "policyholder_id": "PH1",
        "decision_type": 9,
        "reason_code": 15,
        "previous_cents": 50_000 * EUR,
        "proposed_cents": 30_000 * EUR,
        "final_cents": 30_000 * EUR,
        "status": "approved",
        "effective_date": AS_OF + timedelta(days=1),
        "rule_set_version": "manual",
        "notified": False,
    }


def test_the_ids_handed_before_the_insert_are_those_the_insert_gives(
    session: Session, settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    seed_portfolio(session)
    monkeypatch.setattr(service, "HAND_OVER_FROM", 0)
    before: list[DecidedTonight] = []
    kept: list[DecidedTonight] = []
    service.arbitrate(
        session, as_of=AS_OF, run_id=7, settings=settings, keep=kept, before_writes=before.append
    )
    written = read_frame(session, "SELECT decision_id, limit_id, status FROM decision ORDER BY decision_id")
    applied = written[written["status"] == "applied"]
    if session.get_bind().dialect.name != "sqlite":
        # ids from a sequence: not known before the insert, read back after it; nothing started early
        assert before == [] and kept[0].decisions["decision_id"].tolist() == applied["decision_id"].tolist()
        return
    assert len(before) == 1 and kept[0] is before[0]
    handed = before[0].decisions
    assert len(handed) == len(applied) >= 5
    assert (
        handed[["decision_id", "limit_id"]].to_numpy().tolist()
        == applied[["decision_id", "limit_id"]].to_numpy().tolist()
    )


def test_a_decision_written_by_another_connection_before_the_insert_rolls_the_unit_back(
    session: Session, db_engine: Engine, settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An arbiter's decision committed between the read of the next id and the night's insert
    takes that id: the ids computed on are not those given, so the unit of work is run again."""
    seed_portfolio(session)
    session.commit()
    monkeypatch.setattr(service, "HAND_OVER_FROM", 0)
    started: list[DecidedTonight] = []

    def an_arbiter_decides_meanwhile(tonight: DecidedTonight) -> None:
        started.append(tonight)
        with db_engine.begin() as other:
            other.execute(insert(Decision).values(**_a_decision_of_tomorrow()))

    kept: list[DecidedTonight] = []
    if db_engine.dialect.name != "sqlite":  # no id guessed, nothing started before the insert
        service.arbitrate(
            session,
            as_of=AS_OF,
            run_id=7,
            settings=settings,
            keep=kept,
            before_writes=an_arbiter_decides_meanwhile,
        )
        assert started == [] and len(kept) == 1
        return
    with pytest.raises(ChangedMeanwhile, match="ids handed to eligibility and the e-mails"):
        service.arbitrate(
            session,
            as_of=AS_OF,
            run_id=7,
            settings=settings,
            keep=kept,
            before_writes=an_arbiter_decides_meanwhile,
        )
    assert len(started) == 1 and kept == []


def test_a_failure_in_the_thread_fails_the_step_that_needs_its_result(
    session: Session,
    session_factory: sessionmaker[Session],
    settings: Settings,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    seed_portfolio(session)
    monkeypatch.setattr(service, "HAND_OVER_FROM", 0)

    def broken(*_: object, **__: object) -> None:
        raise ValueError("the scheme tables say nothing of this country")

    monkeypatch.setattr(eligibility, "compute", broken)
    group = ("arbitrate", "eligibility", "outbox")
    ctx = NightContext(
        session=session, sessions=session_factory, settings=settings, as_of=AS_OF, run_id=7, group=group
    )
    steps.arbitrate(ctx)  # the writes are done; the thread failed meanwhile
    assert ("ahead" in ctx.handed) is (session.get_bind().dialect.name == "sqlite")
    with pytest.raises(ValueError, match="say nothing of this country"):
        steps.eligibility(ctx)
    if "ahead" in ctx.handed:  # the e-mails depend on it: they fail too, never half written
        with pytest.raises(RuntimeError, match="eligibility computed ahead failed"):
            steps.outbox(ctx)
    assert read_frame(session, "SELECT count(*) AS n FROM notification")["n"].tolist() == [0]
