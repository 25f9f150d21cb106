"""Eligibility and e-mails computed in a thread while arbitration writes its decisions
(:mod:`jobs.ahead`): the ids they use are those the insert gives, no other connection commits
between their reads and the writes, a failure in the thread fails the steps that need its
result, and a unit of work rolled back stops the thread. (That they write the same rows as the
steps run one after the other: tests/jobs/test_handed_tonight.py.)"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterator

import pytest
from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from arbitration import service
from arbitration.handover import DecidedTonight
from config.settings import Settings
from jobs import ahead, eligibility, steps
from jobs.nightly import NightContext, drop_handed
from models.db import ChangedMeanwhile, read_frame
from tests.arbitration.portfolio import AS_OF, seed_portfolio


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


def test_no_other_connection_can_commit_while_the_work_ahead_reads(
    session: Session, db_engine: Engine, settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The reads made for the work ahead and the writes after them see one state: the night
    holds SQLite's write lock from before those reads (an arbiter's approval committed between
    two of them would have its e-mail written without its eligibility)."""
    seed_portfolio(session)
    session.commit()
    monkeypatch.setattr(service, "HAND_OVER_FROM", 0)
    refused: list[str] = []

    def an_arbiter_tries_to_commit(tonight: DecidedTonight) -> None:
        database = db_engine.url.database
        assert database is not None
        other = sqlite3.connect(database, timeout=0.2)
        try:
            other.execute("UPDATE credit_limit SET version = version + 1 WHERE limit_id = 1")
        except sqlite3.OperationalError as exc:
            refused.append(str(exc))
        finally:
            other.close()

    kept: list[DecidedTonight] = []
    service.arbitrate(
        session, as_of=AS_OF, run_id=7, settings=settings, keep=kept, before_writes=an_arbiter_tries_to_commit
    )
    if db_engine.dialect.name != "sqlite":  # no id known before the insert: nothing started early
        assert refused == [] and len(kept) == 1
        return
    assert refused == ["database is locked"] and len(kept) == 1  # it gave up after 0.2 s


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
        with pytest.raises(ValueError, match="say nothing of this country"):
            steps.outbox(ctx)
    assert read_frame(session, "SELECT count(*) AS n FROM notification")["n"].tolist() == [0]


def test_work_ahead_cancelled_stops_at_its_next_batch_of_e_mails(
    session: Session, settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A unit of work rolled back drops what was handed over (jobs.nightly.drop_handed), which
    stops the thread: it renders no more e-mails for nothing, and its result is never used."""
    seed_portfolio(session)
    monkeypatch.setattr(service, "HAND_OVER_FROM", 0)
    first_batch_out, go_on = threading.Event(), threading.Event()

    def two_batches(*_: object, **__: object) -> Iterator[list[dict[str, object]]]:
        yield [{"outbox_key": "one"}]
        first_batch_out.set()
        go_on.wait(10)
        yield [{"outbox_key": "two"}]

    monkeypatch.setattr(ahead, "compose", two_batches)
    started: list[ahead.Ahead] = []

    def start(tonight: DecidedTonight) -> None:
        started.append(ahead.start(session, settings, tonight, business_date=AS_OF, run_id=7))

    service.arbitrate(session, as_of=AS_OF, run_id=7, settings=settings, keep=[], before_writes=start)
    if session.get_bind().dialect.name != "sqlite":
        assert started == []  # nothing computed ahead: the ids are read back after the insert
        return
    assert first_batch_out.wait(10)
    handed: dict[str, object] = {"ahead": started[0], "other": "kept until dropped"}
    drop_handed(handed)
    go_on.set()
    assert handed == {}
    with pytest.raises(ahead.Cancelled, match="rolled back"):
        started[0].notifications.result(timeout=10)


def test_ids_that_are_not_those_the_insert_gave_roll_the_unit_back(
    session: Session, settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Under the write lock the ids read before the insert are those it gives; were they not
    (a bug), the insert's check raises ChangedMeanwhile rather than hand wrong ids on."""
    seed_portfolio(session)
    monkeypatch.setattr(service, "HAND_OVER_FROM", 0)
    real_next_ids = service.next_ids
    monkeypatch.setattr(service, "next_ids", lambda s, n: real_next_ids(s, n) + 1)
    started: list[DecidedTonight] = []
    kept: list[DecidedTonight] = []
    if session.get_bind().dialect.name != "sqlite":  # no id read before the insert
        service.arbitrate(
            session, as_of=AS_OF, run_id=7, settings=settings, keep=kept, before_writes=started.append
        )
        assert started == [] and len(kept) == 1
        return
    with pytest.raises(ChangedMeanwhile, match="not those given"):
        service.arbitrate(
            session, as_of=AS_OF, run_id=7, settings=settings, keep=kept, before_writes=started.append
        )
    assert len(started) == 1 and kept == []
