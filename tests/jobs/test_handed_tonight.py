"""Arbitration hands its decisions to eligibility and the outbox of the same unit of work: the
inputs, the eligibility and the e-mails are those the database path gives, on SQLite and
PostgreSQL, with decisions of other origins (an arbiter's earlier decision, a manual one of the
night) still read from the database."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pandas as pd
import pytest
from sqlalchemy import text
from sqlalchemy.orm import Session, sessionmaker

from arbitration import service
from arbitration.handover import HAND_OVER_FROM, DecidedTonight
from arbitration.service import arbitrate
from config.settings import CONFIG_DIR, Settings
from jobs import steps
from jobs.eligibility import compute, eligibility_inputs, load_scheme_params
from jobs.nightly import STEP_PLAN, NightContext
from jobs.notify.outbox import enqueue, outbox_key, pending
from models import bulk_write
from models.db import read_frame
from models.decision import Decision
from models.notification import Notification
from tests.arbitration.portfolio import AS_OF, EUR, seed_portfolio

PARAMS = load_scheme_params(CONFIG_DIR / "schemes.yaml")


def _other_decision(limit_id: int, *, business_date: Any, status: str, policy: str, holder: str) -> Decision:
    return Decision(
        limit_id=limit_id,
        business_date=business_date,
        policy_id=policy,
        buyer_id="100000002",
        policyholder_id=holder,
        decision_type=9,
        reason_code=15,
        previous_cents=50_000 * EUR,
        proposed_cents=30_000 * EUR,
        final_cents=30_000 * EUR,
        status=status,
        effective_date=business_date,
        rule_set_version="manual",
        notified=False,
    )


def _night(session: Session, settings: Settings, *, mark: bool = False) -> DecidedTonight:
    """The arbitration portfolio with OAL on P1, an English-speaking PH2, sizes and SIRENs, an
    arbiter's decision of the day before still to notify and a manual one of the night;
    ``mark``: the decisions handed over are written already marked notified."""
    seed_portfolio(session)
    session.execute(text("UPDATE policy SET oal_option = :yes WHERE policy_id = 'P1'"), {"yes": True})
    session.execute(text("UPDATE policyholder SET language = 'en' WHERE policyholder_id = 'PH2'"))
    session.execute(
        text(
            "UPDATE policyholder SET revenue_cents = :r, size_category = 'PME' WHERE policyholder_id = 'PH1'"
        ),
        {"r": 20_000_000 * EUR},
    )
    session.execute(text("UPDATE buyer SET siren = buyer_id WHERE country = 'FR'"))
    session.execute(
        text("UPDATE credit_limit SET request_type = 3, requested_cents = :asked WHERE limit_id = 5"),
        {"asked": 300_000 * EUR},
    )
    session.add(
        _other_decision(
            3, business_date=AS_OF - timedelta(days=1), status="approved", policy="P1", holder="PH1"
        )
    )
    session.add(_other_decision(4, business_date=AS_OF, status="amended", policy="P2", holder="PH2"))
    session.flush()
    kept: list[DecidedTonight] = []
    arbitrate(session, as_of=AS_OF, run_id=7, settings=settings, keep=kept, keep_from=0, mark_notified=mark)
    return kept[0]


def _values(frame: pd.DataFrame) -> list[list[Any]]:
    """Rows as plain values, missing as None (the paths type whole numbers differently)."""
    return frame.astype(object).where(frame.notna(), None).to_numpy().tolist()


def _notifications(session: Session, settings: Settings, tonight: DecidedTonight | None) -> list[list[Any]]:
    """The e-mails the outbox queues, rolled back afterwards."""
    savepoint = session.begin_nested()
    enqueue(session, business_date=AS_OF, run_id=7, settings=settings, tonight=tonight)
    queued = read_frame(
        session,
        "SELECT n.outbox_key, policyholder_id, recipients, language, subject, body_text, body_html, status "
        "FROM notification n JOIN notification_body b ON b.outbox_key = n.outbox_key ORDER BY n.outbox_key",
    )
    marked = read_frame(
        session, "SELECT decision_id FROM decision WHERE notified = :yes ORDER BY 1", {"yes": True}
    )
    savepoint.rollback()
    return [*_values(queued), marked["decision_id"].tolist()]


def test_handed_decisions_give_the_database_paths_inputs_eligibility_and_e_mails(
    session: Session, settings: Settings
) -> None:
    tonight = _night(session, settings)
    handed_ids = set(tonight.decisions["decision_id"])
    assert len(handed_ids) == len(tonight.decisions) >= 5 and set(tonight.decisions["status"]) == {"applied"}

    from_database = eligibility_inputs(session, business_date=AS_OF)
    handed = eligibility_inputs(session, business_date=AS_OF, tonight=tonight)
    assert list(handed.columns) == list(from_database.columns)
    assert _values(handed) == _values(from_database)
    others = set(from_database["decision_id"]) - handed_ids
    assert len(others) == 2  # the arbiter's and the manual decision: read from the database
    assert handed["collective_procedure"].any() and handed["oal_option"].any()
    assert handed["requested_cents"].notna().any()
    pd.testing.assert_frame_equal(
        compute(handed, params=PARAMS, as_of=AS_OF), compute(from_database, params=PARAMS, as_of=AS_OF)
    )

    assert _values(pending(session, AS_OF, tonight)) == _values(pending(session, AS_OF))
    with_handed = _notifications(session, settings, tonight)
    assert with_handed == _notifications(session, settings, None)
    assert len(with_handed) == 3  # one e-mail per policyholder, then the decisions marked
    assert set(with_handed[-1]) == handed_ids | others


def test_a_hand_over_of_another_date_is_not_used(session: Session, settings: Settings) -> None:
    tonight = _night(session, settings)
    elsewhere = DecidedTonight(AS_OF + timedelta(days=1), tonight.run_id, tonight.decisions)
    assert _values(eligibility_inputs(session, business_date=AS_OF, tonight=elsewhere)) == _values(
        eligibility_inputs(session, business_date=AS_OF)
    )


def test_a_quiet_night_hands_nothing_over(session: Session, settings: Settings) -> None:
    """Below HAND_OVER_FROM decisions the later steps read them back: cheaper than reading
    every buyer's name."""
    seed_portfolio(session)
    kept: list[DecidedTonight] = []
    summary = arbitrate(session, as_of=AS_OF, run_id=7, settings=settings, keep=kept)
    assert 0 < summary.decisions < HAND_OVER_FROM and kept == []


def _steps_in_one_unit(
    session: Session,
    sessions: sessionmaker[Session],
    settings: Settings,
    group: tuple[str, ...],
    *,
    eligible_read_back: bool = False,
) -> tuple[list[list[Any]], list[list[Any]], bool, list[list[Any]], bool]:
    """The night's arbitrate, eligibility and outbox steps as the pipeline runs them, in a unit
    of work of the steps named ``group``: the eligibility and notification rows they wrote,
    whether a hand-over happened, which decisions (by limit) are marked notified, and whether
    eligibility and the e-mails were computed ahead, during the writes (:mod:`jobs.ahead`).
    With ``eligible_read_back``, the outbox reads the eligible rows instead of taking them over."""
    ctx = NightContext(
        session=session, sessions=sessions, settings=settings, as_of=AS_OF, run_id=7, group=group
    )
    counts = steps.arbitrate(ctx)
    handed = ctx.handed.get("tonight") is not None
    assert counts["handed_over"] == (len(ctx.handed["tonight"].decisions) if handed else 0)
    computed_ahead = "ahead" in ctx.handed
    steps.eligibility(ctx)
    assert ("eligible" in ctx.handed) is ("outbox" in group and not computed_ahead)
    if eligible_read_back:
        del ctx.handed["eligible"]
    steps.outbox(ctx)
    assert not {"tonight", "eligible", "ahead"} & set(ctx.handed)  # dropped once used
    eligibility = read_frame(session, "SELECT * FROM eligibility ORDER BY decision_id, scheme")
    queued = read_frame(
        session,
        "SELECT n.outbox_key, recipients, language, subject, body_text, body_html, status "
        "FROM notification n JOIN notification_body b ON b.outbox_key = n.outbox_key ORDER BY n.outbox_key",
    )
    marked = read_frame(session, "SELECT limit_id, notified FROM decision ORDER BY limit_id")
    return (
        _values(eligibility.drop(columns="eligibility_id")),
        _values(queued),
        handed,
        _values(marked),
        computed_ahead,
    )


def test_the_night_steps_write_the_same_with_or_without_the_hand_over(
    session: Session,
    session_factory: sessionmaker[Session],
    settings: Settings,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    seed_portfolio(session)
    session.execute(text("UPDATE policy SET oal_option = :yes"), {"yes": True})
    session.flush()
    unit = tuple(name for group in STEP_PLAN for name, _ in group if "outbox" in dict(group))
    assert unit == ("arbitrate", "eligibility", "outbox")
    runs = []
    per_row = bulk_write.STAGED_MIN_ROWS  # more rows than these few: each written row by row
    next_ids = service.next_ids
    # everything read back; handed over to a unit without the outbox (nothing marked, the
    # eligible rows read back); handed over within the unit (marked): computed ahead during the
    # writes where the ids are known before the insert (SQLite), else (the ids not known first)
    # the eligible rows taken over, or read back (that read must include the decisions written
    # marked); computed ahead again with every bulk write of SQLite staged (models.bulk_write),
    # as a big night's are
    for hand_over_from, group, read_back, staged, ids_known in (
        (None, unit, True, False, True),
        (0, ("arbitrate", "eligibility"), False, False, True),
        (0, unit, False, False, True),
        (0, unit, False, False, False),
        (0, unit, True, False, False),
        (0, unit, False, True, True),
    ):
        if hand_over_from is not None:
            monkeypatch.setattr(service, "HAND_OVER_FROM", hand_over_from)
        monkeypatch.setattr(bulk_write, "STAGED_MIN_ROWS", 1 if staged else per_row)
        monkeypatch.setattr(service, "next_ids", next_ids if ids_known else lambda *_: None)
        savepoint = session.begin_nested()
        runs.append(
            _steps_in_one_unit(session, session_factory, settings, group, eligible_read_back=read_back)
        )
        savepoint.rollback()
        if session.get_bind().dialect.name == "postgresql":  # a rollback does not rewind a sequence
            session.execute(
                text("SELECT setval(pg_get_serial_sequence('decision', 'decision_id'), 1, false)")
            )
    without, *handed = runs
    assert [r[2] for r in runs] == [False, True, True, True, True, True]
    on_sqlite = session.get_bind().dialect.name == "sqlite"
    assert [r[4] for r in runs] == [False, False, on_sqlite, False, False, on_sqlite]
    # written marked (the outbox in the same unit) or marked by the outbox: the same rows
    for other in handed:
        assert other[:2] == without[:2] and other[3] == without[3]
    assert without[0] and without[1]  # eligibility rows and e-mails were written
    assert {notified for _, notified in without[3]} == {True, False}  # referred ones wait


def test_handed_decisions_written_marked_are_unmarked_when_their_e_mail_of_the_date_went_before(
    session: Session, settings: Settings
) -> None:
    """A policyholder whose e-mail of the date is already queued (its outbox key used): the
    outbox leaves its decisions for the next night, so the mark the hand-over wrote is cleared;
    the others stay marked, as when the outbox marks them itself."""
    marked: dict[bool, list[list[Any]]] = {}
    for mark in (False, True):
        savepoint = session.begin_nested()
        tonight = _night(session, settings, mark=mark)
        assert tonight.marked_notified is mark
        session.add(
            Notification(
                outbox_key=outbox_key("PH1", AS_OF),
                business_date=AS_OF,
                policyholder_id="PH1",
                recipients="risk@example.com",
                language="fr",
                subject="sent earlier",
                status="sent",
                attempts=1,
            )
        )
        session.flush()
        assert enqueue(session, business_date=AS_OF, run_id=7, settings=settings, tonight=tonight) == 1
        marked[mark] = _values(
            read_frame(
                session,
                "SELECT limit_id, business_date, policyholder_id, notified FROM decision "
                "ORDER BY limit_id, business_date",
            )
        )
        savepoint.rollback()
    assert marked[True] == marked[False]
    by_holder = {(holder, notified) for _, _, holder, notified in marked[True]}
    assert (("PH1", True) not in by_holder) and ("PH2", True) in by_holder
