"""The review workflow service on both backends: acts, four-eyes, concurrency, audit, bad input."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session, sessionmaker

from arbitration import review, review_limits
from arbitration.users import (
    ConflictError,
    ForbiddenError,
    InvalidInputError,
    NotFoundError,
    Principal,
    principal_for_id,
)
from models.arbiter_user import ArbiterUser
from models.audit_log import AuditLog
from models.codes import FINAL_STATUSES
from models.credit_limit import CreditLimit
from models.decision import Decision
from models.review_task import ReviewTask
from tests.admin.conftest import EUR, TODAY, World


@pytest.fixture
def sessions(db_engine: Engine) -> sessionmaker[Session]:
    return sessionmaker(db_engine, expire_on_commit=False)


def who(sessions: sessionmaker[Session], name: str) -> Principal:
    with sessions() as s:
        user_id = s.scalar(select(ArbiterUser.user_id).where(ArbiterUser.username == name))
        assert user_id is not None
        return principal_for_id(s, user_id=user_id)


def state(
    sessions: sessionmaker[Session], decision_id: int
) -> tuple[Decision, CreditLimit, ReviewTask | None, int]:
    with sessions() as s:
        d = s.get(Decision, decision_id)
        assert d is not None
        limit = s.get(CreditLimit, d.limit_id)
        assert limit is not None
        task = s.scalar(select(ReviewTask).where(ReviewTask.decision_id == decision_id))
        audits = s.scalar(select(func.count()).select_from(AuditLog)) or 0
        return d, limit, task, audits


def test_an_approval_within_authority_is_final_notifiable_and_audited(world: World, sessions) -> None:
    ann = who(sessions, "ann")
    did = world.decisions["auto"]
    with sessions.begin() as s:
        result = review.approve(s, actor=ann, decision_id=did, expected_version=1, comment="documents seen")
    assert result.outcome == "decided"
    d, limit, task, _ = state(sessions, did)
    assert d.status == "approved" and d.status in FINAL_STATUSES and d.notified is False
    assert d.final_cents == 150_000 * EUR and d.version == 2 and d.decided_at is not None
    assert limit.granted_cents == 150_000 * EUR and limit.status == "active" and limit.version == 2
    assert limit.requested_cents is None and task is not None and task.status == "closed"
    with sessions() as s:
        audit = s.scalars(select(AuditLog)).one()
    assert (audit.actor, audit.action, audit.entity_id, audit.reason) == (
        "ann",
        "approved",
        str(did),
        "documents seen",
    )
    assert (
        json.loads(audit.before)["status"] == "referred" and json.loads(audit.after)["status"] == "approved"
    )


def test_an_amendment_recodes_the_decision_and_sets_the_limit(world: World, sessions) -> None:
    bob = who(sessions, "bob")
    did = world.decisions["auto"]
    with sessions.begin() as s:
        review.amend(
            s, actor=bob, decision_id=did, expected_version=1, amount_cents=200_000 * EUR, comment="ok"
        )
    d, limit, _, _ = state(sessions, did)
    assert (d.status, d.decision_type, d.final_cents) == ("amended", 2, 200_000 * EUR)
    assert limit.granted_cents == 200_000 * EUR


def test_a_refusal_keeps_the_limit_as_it_was(world: World, sessions) -> None:
    lat = who(sessions, "lat")
    did = world.decisions["latam"]
    with sessions.begin() as s:
        review.refuse(s, actor=lat, decision_id=did, expected_version=1, comment="reduction not justified")
    d, limit, _, _ = state(sessions, did)
    assert (d.status, d.decision_type, d.final_cents, d.notified) == ("refused", 3, 30_000 * EUR, False)
    assert limit.granted_cents == 30_000 * EUR and limit.version == 2


@pytest.mark.parametrize(
    ("amount", "comment", "message"),
    [
        (-1, "why", "expected an amount >= 0"),
        (200_000 * EUR + 1, "why", "at most"),
        (100 * EUR, "   ", "comment is mandatory"),
    ],
)
def test_bad_amendments_change_nothing(
    world: World, sessions, amount: int, comment: str, message: str
) -> None:
    bob = who(sessions, "bob")
    did = world.decisions["auto"]
    before = state(sessions, did)
    with sessions() as s, pytest.raises(InvalidInputError, match=message):
        review.amend(s, actor=bob, decision_id=did, expected_version=1, amount_cents=amount, comment=comment)
    after = state(sessions, did)
    assert (after[0].version, after[0].status, after[1].granted_cents, after[3]) == (
        before[0].version,
        before[0].status,
        before[1].granted_cents,
        before[3],
    )


def test_eur_to_cents_reads_what_people_type() -> None:
    assert review.eur_to_cents("12 000,50") == 1_200_050
    assert review.eur_to_cents("15000") == 1_500_000
    for bad in ("abc", "1.234", "nan", "inf", ""):
        with pytest.raises(InvalidInputError):
            review.eur_to_cents(bad)


def test_four_eyes_needs_a_second_different_arbiter_with_enough_authority(world: World, sessions) -> None:
    did = world.decisions["four_eyes"]
    bob, low, sen = who(sessions, "bob"), who(sessions, "low"), who(sessions, "sen")
    with sessions.begin() as s:
        first = review.approve(s, actor=bob, decision_id=did, expected_version=1, comment="I propose")
    assert first.outcome == "awaiting_second" and first.version == 2
    d, limit, task, _ = state(sessions, did)
    assert d.status == "referred" and limit.granted_cents == 300_000 * EUR
    assert task is not None and (task.status, task.first_arbiter_id) == (
        "awaiting_second",
        world.user_ids["bob"],
    )
    with sessions() as s, pytest.raises(ForbiddenError, match="never the proposer"):
        review.approve(s, actor=bob, decision_id=did, expected_version=2, comment="me again")
    with sessions() as s, pytest.raises(ForbiddenError, match="authority"):
        review.approve(s, actor=low, decision_id=did, expected_version=2, comment="too small")
    with sessions.begin() as s:
        second = review.approve(s, actor=sen, decision_id=did, expected_version=2, comment="agreed")
    assert second.outcome == "decided"
    d, limit, task, _ = state(sessions, did)
    assert (d.status, d.final_cents, limit.granted_cents) == ("approved", 400_000 * EUR, 400_000 * EUR)
    with sessions() as s:
        actions = [a.action for a in s.scalars(select(AuditLog).order_by(AuditLog.audit_id))]
    assert actions == ["propose", "second_approval"]


def test_above_my_authority_my_approval_is_only_a_proposal(world: World, sessions) -> None:
    low = who(sessions, "low")
    with sessions.begin() as s:
        result = review.approve(
            s, actor=low, decision_id=world.decisions["auto"], expected_version=1, comment="ok"
        )
    assert result.outcome == "awaiting_second"


def test_two_arbiters_on_the_same_decision_one_wins_one_gets_a_conflict(world: World, sessions) -> None:
    ann, bob = who(sessions, "ann"), who(sessions, "bob")
    did = world.decisions["auto"]
    with sessions() as s1, sessions() as s2:
        s1.get(Decision, did), s2.get(Decision, did)  # both screens loaded at version 1
        review.approve(s1, actor=ann, decision_id=did, expected_version=1, comment="first")
        s1.commit()
        with pytest.raises(ConflictError, match="version"):
            review.refuse(s2, actor=bob, decision_id=did, expected_version=1, comment="second")
        s2.rollback()
    d, *_ = state(sessions, did)
    assert d.status == "approved"


def test_scope_role_and_state_are_enforced(world: World, sessions) -> None:
    ann, risk, lat = who(sessions, "ann"), who(sessions, "risk"), who(sessions, "lat")
    with sessions() as s:
        with pytest.raises(NotFoundError):
            review.approve(
                s, actor=ann, decision_id=world.decisions["latam"], expected_version=1, comment="x"
            )
        with pytest.raises(ForbiddenError, match="read-only"):
            review.approve(
                s, actor=risk, decision_id=world.decisions["auto"], expected_version=1, comment="x"
            )
        with pytest.raises(NotFoundError):
            review.approve(s, actor=lat, decision_id=999_999, expected_version=1, comment="x")
        with pytest.raises(ConflictError, match="not waiting"):
            review.approve(
                s, actor=ann, decision_id=world.decisions["applied"], expected_version=1, comment="x"
            )


def test_a_manual_change_becomes_a_notifiable_decision(world: World, sessions) -> None:
    bob = who(sessions, "bob")
    lid = world.limits["L4"]
    with sessions.begin() as s:
        made = review_limits.change_limit(
            s,
            actor=bob,
            limit_id=lid,
            expected_version=1,
            granted_cents=5_000 * EUR,
            comment="call",
            business_date=TODAY,
        )
        did = made.decision_id
    d, limit, _, audits = state(sessions, did)
    assert (d.status, d.decision_type, d.final_cents, d.notified, d.desk) == (
        "amended",
        9,
        5_000 * EUR,
        False,
        "AUTO",
    )
    assert (limit.granted_cents, limit.version, audits) == (5_000 * EUR, 2, 1)
    with sessions() as s:
        with pytest.raises(ConflictError):  # stale version
            review_limits.change_limit(
                s,
                actor=bob,
                limit_id=lid,
                expected_version=1,
                granted_cents=1,
                comment="x",
                business_date=TODAY,
            )
        with pytest.raises(ForbiddenError, match="authority"):
            review_limits.change_limit(
                s,
                actor=bob,
                limit_id=lid,
                expected_version=2,
                granted_cents=2_000_000 * EUR,
                comment="x",
                business_date=TODAY,
            )


def test_a_manual_change_answering_a_request_keeps_what_was_asked(world: World, sessions) -> None:
    """L1 asks 100k -> 200k; set by hand to 150k the next day, it is a partial approval and
    the decision keeps the 200k asked for (the change clears the request from the limit)."""
    bob = who(sessions, "bob")
    with sessions.begin() as s:
        made = review_limits.change_limit(
            s,
            actor=bob,
            limit_id=world.limits["L1"],
            expected_version=1,
            granted_cents=150_000 * EUR,
            comment="accounts received",
            business_date=TODAY + timedelta(days=1),
        )
        did = made.decision_id
    d, limit, _, _ = state(sessions, did)
    assert (d.decision_type, d.requested_cents, d.previous_cents) == (5, 200_000 * EUR, 100_000 * EUR)
    assert (limit.requested_cents, limit.request_type, limit.granted_cents) == (None, None, 150_000 * EUR)


def test_the_audit_log_is_append_only(world: World, sessions) -> None:
    from models.audit_log import AppendOnlyError

    ann = who(sessions, "ann")
    with sessions.begin() as s:
        review.refuse(s, actor=ann, decision_id=world.decisions["auto"], expected_version=1, comment="no")
    with sessions() as s:
        row = s.scalars(select(AuditLog)).one()
        row.reason = "rewritten"
        with pytest.raises(AppendOnlyError):
            s.flush()
        s.rollback()
        row = s.scalars(select(AuditLog)).one()
        s.delete(row)
        with pytest.raises(AppendOnlyError):
            s.flush()
