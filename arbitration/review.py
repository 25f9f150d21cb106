"""The review workflow: what an arbiter does to a referred decision or to a limit by hand.

Used by the admin API, usable from anywhere else (no web import). Every act:
- checks function-level (role) and object-level (desk in the user's scope) authorization;
- checks the caller's version of the row (optimistic concurrency): the write is an
  ``UPDATE ... WHERE version = :seen`` so two arbiters racing get one winner and one
  :class:`ConflictError`, even across processes;
- appends one row to ``audit_log`` (who, what, before, after, when, why);
- leaves a final decision with ``notified = False`` so the next nightly run notifies it.

Four-eyes: when the task needs two approvals, or the amount needs more authority than the
actor has, the first approval only records a proposal (task ``awaiting_second``); a second,
different arbiter with enough authority turns it into the decision. Refusing never raises
exposure, so it needs no second pair of eyes.

Refusal keeps the limit at the amount granted before the decision (a refused new request
leaves 0 and the limit ``refused``). The service does not commit: the caller's unit of work does.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from typing import Any, Literal

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from arbitration.users import (
    ConflictError,
    ForbiddenError,
    InvalidInputError,
    NotFoundError,
    Principal,
)
from models.audit_log import AuditLog
from models.base import utcnow
from models.codes import DecisionStatus, RequestType, ResponseType
from models.credit_limit import CreditLimit
from models.decision import Decision
from models.review_task import ReviewTask

MAX_COMMENT = 2000
MAX_CENTS = 10**15  # ten trillion euros: anything above is a typing error, not a limit
Outcome = Literal["decided", "awaiting_second"]


@dataclass(frozen=True)
class ActResult:
    """What happened: ``decided`` (final) or ``awaiting_second`` (four-eyes proposal recorded)."""

    outcome: Outcome
    decision_id: int
    status: str
    final_cents: int | None
    version: int


def eur_to_cents(text: str) -> int:
    """Parse an amount typed in euros ("12000", "12 000,50", "12000.5") into integer cents."""
    cleaned = text.strip().replace("\u00a0", "").replace(" ", "").replace(",", ".")
    try:
        value = Decimal(cleaned)
    except InvalidOperation:
        raise InvalidInputError(
            f"expected an amount in euros such as 12000 or 12000.50, found {text!r}"
        ) from None
    if not value.is_finite():
        raise InvalidInputError(f"expected a finite amount in euros, found {text!r}")
    cents = value * 100
    if cents != cents.to_integral_value():
        raise InvalidInputError(f"expected at most two decimals, found {text!r}")
    return int(cents)


def check_comment(comment: str) -> str:
    text = comment.strip()
    if not text:
        raise InvalidInputError("a comment is mandatory: say why (expected a non-empty text, found none)")
    if len(text) > MAX_COMMENT:
        raise InvalidInputError(f"expected a comment of at most {MAX_COMMENT} characters, found {len(text)}")
    return text


def check_amount(amount_cents: int, *, ceiling: int) -> None:
    if amount_cents < 0:
        raise InvalidInputError(f"expected an amount >= 0, found {amount_cents / 100:.2f} EUR")
    if amount_cents > min(ceiling, MAX_CENTS):
        raise InvalidInputError(
            f"expected an amount at most {ceiling / 100:,.2f} EUR (the requested or current amount), "
            f"found {amount_cents / 100:,.2f} EUR"
        )


def snapshot(row: Decision | CreditLimit | ReviewTask, fields: tuple[str, ...]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for name in fields:
        value = getattr(row, name)
        out[name] = value.isoformat() if isinstance(value, date | datetime) else value
    return out


DECISION_FIELDS = ("status", "decision_type", "final_cents", "version", "notified")
LIMIT_FIELDS = ("granted_cents", "status", "requested_cents", "request_type", "version")
TASK_FIELDS = ("status", "first_arbiter_id", "first_amount_cents", "version")


def audit(
    session: Session,
    *,
    actor: Principal,
    action: str,
    entity: str,
    entity_id: int,
    before: dict[str, Any],
    after: dict[str, Any],
    reason: str,
) -> None:
    session.add(
        AuditLog(
            at=utcnow(),
            actor=actor.username,
            action=action,
            entity=entity,
            entity_id=str(entity_id),
            before=json.dumps(before, sort_keys=True, default=str),
            after=json.dumps(after, sort_keys=True, default=str),
            reason=reason,
        )
    )


def require_writer(actor: Principal) -> None:
    if not actor.can_write:
        raise ForbiddenError(f"role {actor.role.value} is read-only: it cannot change decisions or limits")


def load_decision(session: Session, *, actor: Principal, decision_id: int) -> Decision:
    """A decision the actor may see; outside the scope it is reported as not found (no leak)."""
    decision = session.get(Decision, decision_id)
    if decision is None or not actor.covers(decision.desk):
        raise NotFoundError(f"no decision {decision_id} in your desks")
    return decision


def _task_of(session: Session, decision: Decision) -> ReviewTask:
    task = session.scalar(select(ReviewTask).where(ReviewTask.decision_id == decision.decision_id))
    if task is None or decision.status != DecisionStatus.REFERRED or task.status == "closed":
        raise ConflictError(
            f"decision {decision.decision_id} is {decision.status}, not waiting for an arbiter: nothing to act on"
        )
    return task


def guarded_update(session: Session, model: Any, key: Any, seen_version: int, values: dict[str, Any]) -> None:
    """Compare-and-set on ``version``: zero rows updated means someone else acted first."""
    result = session.execute(
        update(model)
        .where(key, model.version == seen_version)
        .values(**values, version=seen_version + 1)
        .execution_options(synchronize_session="fetch")
    )
    if result.rowcount != 1:  # type: ignore[attr-defined]
        raise ConflictError(
            f"{model.__tablename__} was changed by someone else (you saw version {seen_version}); "
            "reload the page and decide again"
        )


def decision_type_for(previous: int, amount: int, requested: int | None, request_type: int | None) -> int:
    """EDIFACT 4507 code of the outcome an arbiter chose."""
    if request_type in (RequestType.NEW, RequestType.INCREASE) and requested is not None:
        if amount == 0:
            return ResponseType.NOT_APPROVED
        return ResponseType.APPROVED if amount >= requested else ResponseType.PARTLY_APPROVED
    if amount == 0 and previous > 0:
        return ResponseType.CANCELLATION
    if amount < previous:
        return ResponseType.REDUCTION
    return ResponseType.APPROVED


def limit_status(amount: int, previous: int) -> str:
    if amount > 0:
        return "active"
    return "cancelled" if previous > 0 else "refused"


def _ceiling(decision: Decision, limit: CreditLimit) -> int:
    """An arbiter grants at most what was asked (or, without a request, what is already granted)."""
    if limit.requested_cents is not None:
        return max(int(limit.requested_cents), int(decision.proposed_cents))
    return max(int(decision.previous_cents), int(decision.proposed_cents))


def _finalize(
    session: Session,
    *,
    actor: Principal,
    decision: Decision,
    task: ReviewTask,
    limit: CreditLimit,
    status: DecisionStatus,
    amount: int,
    decision_type: int,
    comment: str,
    seen_version: int,
    action: str,
) -> ActResult:
    now = utcnow()
    before_d = snapshot(decision, DECISION_FIELDS)
    before_l = snapshot(limit, LIMIT_FIELDS)
    explanation = f"{decision.explanation or ''}\n[{actor.username} {status.value}] {comment}".strip()
    guarded_update(
        session,
        Decision,
        Decision.decision_id == decision.decision_id,
        seen_version,
        {
            "status": status.value,
            "final_cents": amount,
            "decision_type": decision_type,
            "decided_at": now,
            "notified": False,
            "explanation": explanation,
        },
    )
    guarded_update(
        session,
        ReviewTask,
        ReviewTask.task_id == task.task_id,
        task.version,
        {"status": "closed", "closed_at": now},
    )
    guarded_update(
        session,
        CreditLimit,
        CreditLimit.limit_id == limit.limit_id,
        limit.version,
        {
            "granted_cents": amount,
            "status": limit_status(amount, int(decision.previous_cents)),
            "requested_cents": None,
            "request_type": None,
            "effective_date": decision.effective_date,
            "updated_at": now,
        },
    )
    session.refresh(decision)
    session.refresh(limit)
    audit(
        session,
        actor=actor,
        action=action,
        entity="decision",
        entity_id=decision.decision_id,
        before={**before_d, "limit": before_l},
        after={**snapshot(decision, DECISION_FIELDS), "limit": snapshot(limit, LIMIT_FIELDS)},
        reason=comment,
    )
    return ActResult("decided", decision.decision_id, decision.status, decision.final_cents, decision.version)


def _needs_second(task: ReviewTask, actor: Principal, required: int) -> bool:
    return task.approvals_needed >= 2 or actor.authority_cents < required


def _grant(
    session: Session,
    *,
    actor: Principal,
    decision_id: int,
    expected_version: int,
    comment: str,
    amount: int | None,
) -> ActResult:
    """Approve (``amount`` None: the proposed amount) or amend (``amount`` given)."""
    reason, decision, task, limit = _open_act(
        session, actor=actor, decision_id=decision_id, expected_version=expected_version, comment=comment
    )
    if amount is not None:
        check_amount(amount, ceiling=_ceiling(decision, limit))
    second_step = task.status == "awaiting_second"
    if second_step and task.first_arbiter_id == actor.user_id:
        raise ForbiddenError(
            f"you proposed decision {decision_id}: four-eyes needs a second arbiter, never the proposer"
        )
    if second_step and (amount is None or amount == task.first_amount_cents):
        chosen = int(
            task.first_amount_cents if task.first_amount_cents is not None else decision.proposed_cents
        )
    else:
        chosen = int(decision.proposed_cents) if amount is None else amount
    required = max(int(task.required_authority_cents or 0), chosen)
    is_confirmation = second_step and chosen == task.first_amount_cents
    if is_confirmation:
        if actor.authority_cents < required:
            raise ForbiddenError(
                f"approving needs a delegated authority of {required / 100:,.2f} EUR; "
                f"yours is {actor.authority_cents / 100:,.2f} EUR"
            )
    elif _needs_second(task, actor, required):
        return _propose(
            session,
            actor=actor,
            decision=decision,
            task=task,
            amount=chosen,
            comment=reason,
            seen=expected_version,
        )
    status = DecisionStatus.APPROVED if chosen == decision.proposed_cents else DecisionStatus.AMENDED
    decision_type = (
        int(decision.decision_type)
        if status is DecisionStatus.APPROVED
        else decision_type_for(
            int(decision.previous_cents), chosen, limit.requested_cents, limit.request_type
        )
    )
    return _finalize(
        session,
        actor=actor,
        decision=decision,
        task=task,
        limit=limit,
        status=status,
        amount=chosen,
        decision_type=decision_type,
        comment=reason,
        seen_version=expected_version,
        action="second_approval" if is_confirmation else status.value,
    )


def _propose(
    session: Session,
    *,
    actor: Principal,
    decision: Decision,
    task: ReviewTask,
    amount: int,
    comment: str,
    seen: int,
) -> ActResult:
    """First of four eyes: record who proposed what; the decision stays referred."""
    before = snapshot(task, TASK_FIELDS)
    guarded_update(
        session,
        ReviewTask,
        ReviewTask.task_id == task.task_id,
        task.version,
        {"status": "awaiting_second", "first_arbiter_id": actor.user_id, "first_amount_cents": amount},
    )
    # The decision's version moves too, so a screen opened before the proposal is stale.
    guarded_update(session, Decision, Decision.decision_id == decision.decision_id, seen, {})
    session.refresh(task)
    session.refresh(decision)
    audit(
        session,
        actor=actor,
        action="propose",
        entity="decision",
        entity_id=decision.decision_id,
        before=before,
        after=snapshot(task, TASK_FIELDS),
        reason=comment,
    )
    return ActResult("awaiting_second", decision.decision_id, decision.status, None, decision.version)


def approve(
    session: Session, *, actor: Principal, decision_id: int, expected_version: int, comment: str
) -> ActResult:
    """Approve the proposed amount (or confirm a colleague's four-eyes proposal)."""
    return _grant(
        session,
        actor=actor,
        decision_id=decision_id,
        expected_version=expected_version,
        comment=comment,
        amount=None,
    )


def amend(
    session: Session,
    *,
    actor: Principal,
    decision_id: int,
    expected_version: int,
    amount_cents: int,
    comment: str,
) -> ActResult:
    """Decide another amount: between 0 and the requested (or current) amount."""
    return _grant(
        session,
        actor=actor,
        decision_id=decision_id,
        expected_version=expected_version,
        comment=comment,
        amount=amount_cents,
    )


def _open_act(
    session: Session, *, actor: Principal, decision_id: int, expected_version: int, comment: str
) -> tuple[str, Decision, ReviewTask, CreditLimit]:
    """What every act checks first: a writer, a comment, the decision in scope and at the
    version the arbiter saw (else a conflict), its review task and its limit."""
    require_writer(actor)
    reason = check_comment(comment)
    decision = load_decision(session, actor=actor, decision_id=decision_id)
    if decision.version != expected_version:
        raise ConflictError(
            f"decision {decision_id} is at version {decision.version}, you saw version {expected_version}; "
            "someone acted first: reload and decide again"
        )
    task = _task_of(session, decision)
    limit = session.get(CreditLimit, decision.limit_id)
    if limit is None:
        raise NotFoundError(
            f"decision {decision_id} refers to limit {decision.limit_id}, which does not exist"
        )
    return reason, decision, task, limit


def refuse(
    session: Session, *, actor: Principal, decision_id: int, expected_version: int, comment: str
) -> ActResult:
    """Refuse the proposal: the limit stays at what was granted before (0 for a new request)."""
    reason, decision, task, limit = _open_act(
        session, actor=actor, decision_id=decision_id, expected_version=expected_version, comment=comment
    )
    return _finalize(
        session,
        actor=actor,
        decision=decision,
        task=task,
        limit=limit,
        status=DecisionStatus.REFUSED,
        amount=int(decision.previous_cents),
        decision_type=ResponseType.NOT_APPROVED,
        comment=reason,
        seen_version=expected_version,
        action="refuse",
    )
