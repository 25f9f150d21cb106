"""Changing a limit by hand: the second half of the review workflow (see :mod:`arbitration.review`).

A manual change becomes a decision of the business date (status ``amended``, reason 15
other) so the next nightly run notifies the policyholder, exactly like an arbiter's decision
on a referral; it is checked, versioned and audited the same way.
"""

from __future__ import annotations

from datetime import date

from sqlalchemy import select
from sqlalchemy.orm import Session

from arbitration.review import (
    LIMIT_FIELDS,
    MAX_CENTS,
    audit,
    check_amount,
    check_comment,
    decision_type_for,
    guarded_update,
    limit_status,
    require_writer,
    snapshot,
)
from arbitration.users import ConflictError, ForbiddenError, InvalidInputError, NotFoundError, Principal
from models.base import utcnow
from models.codes import DecisionStatus, ReasonCode
from models.credit_limit import CreditLimit
from models.decision import Decision
from models.policy import Policy


def limit_desk(session: Session, *, limit_id: int) -> str | None:
    """A limit's desk is the desk of its latest decision (the engine's routing); None if never decided."""
    return session.scalar(
        select(Decision.desk)
        .where(Decision.limit_id == limit_id)
        .order_by(Decision.business_date.desc(), Decision.decision_id.desc())
        .limit(1)
    )


def load_limit(session: Session, *, actor: Principal, limit_id: int) -> tuple[CreditLimit, str | None]:
    limit = session.get(CreditLimit, limit_id)
    desk = limit_desk(session, limit_id=limit_id) if limit is not None else None
    if limit is None or not actor.covers(desk):
        raise NotFoundError(f"no limit {limit_id} in your desks")
    return limit, desk


def change_limit(
    session: Session,
    *,
    actor: Principal,
    limit_id: int,
    expected_version: int,
    granted_cents: int,
    comment: str,
    business_date: date,
) -> Decision:
    """Set a limit by hand. It becomes a decision of ``business_date`` (status ``amended``,
    reason 15 other, the comment as explanation) so the next run notifies the policyholder.
    Above the actor's authority it is refused: such a change goes through a referral."""
    require_writer(actor)
    reason = check_comment(comment)
    limit, desk = load_limit(session, actor=actor, limit_id=limit_id)
    if limit.version != expected_version:
        raise ConflictError(
            f"limit {limit_id} is at version {limit.version}, you saw version {expected_version}; reload and retry"
        )
    previous = int(limit.granted_cents)
    check_amount(granted_cents, ceiling=MAX_CENTS)
    if granted_cents > actor.authority_cents:
        raise ForbiddenError(
            f"{granted_cents / 100:,.2f} EUR is above your delegated authority of "
            f"{actor.authority_cents / 100:,.2f} EUR"
        )
    if granted_cents == previous:
        raise InvalidInputError(f"the limit is already {previous / 100:,.2f} EUR: nothing to change")
    existing = session.scalar(
        select(Decision.decision_id).where(
            Decision.limit_id == limit_id, Decision.business_date == business_date
        )
    )
    if existing is not None:
        raise ConflictError(
            f"limit {limit_id} already has decision {existing} for {business_date.isoformat()}: act on it instead"
        )
    before = snapshot(limit, LIMIT_FIELDS)
    # read before the update: it clears the answered request on the session's limit too
    requested, request_type = limit.requested_cents, limit.request_type
    now = utcnow()
    guarded_update(
        session,
        CreditLimit,
        CreditLimit.limit_id == limit_id,
        expected_version,
        {
            "granted_cents": granted_cents,
            "status": limit_status(granted_cents, previous),
            "requested_cents": None,
            "request_type": None,
            "effective_date": business_date,
            "updated_at": now,
        },
    )
    policy = session.get(Policy, limit.policy_id)
    decision = Decision(
        limit_id=limit_id,
        business_date=business_date,
        policy_id=limit.policy_id,
        buyer_id=limit.buyer_id,
        policyholder_id=policy.policyholder_id if policy is not None else "",
        decision_type=decision_type_for(previous, granted_cents, requested, request_type),
        reason_code=ReasonCode.OTHER,
        previous_cents=previous,
        requested_cents=requested,
        proposed_cents=granted_cents,
        final_cents=granted_cents,
        status=DecisionStatus.AMENDED.value,
        desk=desk,
        effective_date=business_date,
        rule_set_version="manual",
        fired_rules="[]",
        observed="{}",
        explanation=f"[{actor.username} manual change] {reason}",
        notified=False,
        decided_at=now,
    )
    session.add(decision)
    session.flush()
    session.refresh(limit)
    audit(
        session,
        actor=actor,
        action="change_limit",
        entity="credit_limit",
        entity_id=limit_id,
        before=before,
        after={**snapshot(limit, LIMIT_FIELDS), "decision_id": decision.decision_id},
        reason=reason,
    )
    return decision
