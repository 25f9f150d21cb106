"""Read side of the review workflow: the queue and the buyer dossier.

Each screen is a handful of indexed, bounded queries (LIMIT everywhere, filters pushed into
SQL, the user's desks in the WHERE clause) so a page costs the same with one thousand or one
million buyers. No web import: the API and any other caller share these.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import date
from typing import Any, Literal, cast

from sqlalchemy import Select, func, null, select
from sqlalchemy.orm import Session

from arbitration.review_history import payment_history, recent_dates
from arbitration.users import InvalidInputError, NotFoundError, Principal
from models.buyer import Buyer
from models.credit_limit import CreditLimit
from models.db import mapped_rows
from models.decision import Decision
from models.legal_event import LegalEvent
from models.policy import Policy
from models.policyholder import Policyholder
from models.review_task import ReviewTask
from models.score import Score

StatusFilter = Literal["", "referred", "applied", "approved", "amended", "refused"]
"""Decision statuses the queue filters on; empty = any status."""
SortKey = Literal["authority", "-authority", "date", "-date", "amount", "-amount", "buyer", "-buyer"]
SORTS: dict[str, Any] = {
    "authority": Decision.required_authority_cents,
    "date": Decision.business_date,
    "amount": Decision.proposed_cents,
    "buyer": Decision.buyer_id,
}
MAX_PAGE_SIZE = 200
HISTORY_POINTS = 60
"""Score dates shown in a dossier's PD history."""
EVENTS_SHOWN = 50
DECISIONS_SHOWN = 50


@dataclass(frozen=True)
class QueueRow:
    decision_id: int
    business_date: date
    buyer_id: str
    buyer_name: str | None
    desk: str | None
    status: str
    decision_type: int
    previous_cents: int
    proposed_cents: int
    required_authority_cents: int | None
    task_status: str | None
    approvals_needed: int | None
    first_arbiter_id: int | None
    version: int


@dataclass(frozen=True)
class QueuePage:
    rows: list[QueueRow]
    total: int
    page: int
    page_size: int

    @property
    def pages(self) -> int:
        return max(1, -(-self.total // self.page_size))


def _scope(stmt: Select, actor: Principal) -> Select:  # type: ignore[type-arg]
    if actor.all_desks:
        return stmt
    return stmt.where(Decision.desk.in_(sorted(actor.desks)))


def queue(
    session: Session,
    *,
    actor: Principal,
    desk: str | None = None,
    status: str | None = "referred",
    decision_type: int | None = None,
    sort: str = "-authority",
    page: int = 1,
    page_size: int = 50,
) -> QueuePage:
    """Decisions in the actor's desks, filtered, sorted and paginated in SQL."""
    key = sort.removeprefix("-")
    if key not in SORTS:
        raise InvalidInputError(
            f"expected sort among {', '.join(sorted(SORTS))} (optionally -), found {sort!r}"
        )
    if page < 1 or not 1 <= page_size <= MAX_PAGE_SIZE:
        raise InvalidInputError(
            f"expected page >= 1 and 1 <= page_size <= {MAX_PAGE_SIZE}, found {page}, {page_size}"
        )
    filters = []
    if desk:
        filters.append(Decision.desk == desk)
    if status:
        filters.append(Decision.status == status)
    if decision_type is not None:
        filters.append(Decision.decision_type == decision_type)
    counted = _scope(select(func.count()).select_from(Decision).where(*filters), actor)
    total = int(session.scalar(counted) or 0)
    column = SORTS[key]
    order = column.desc() if sort.startswith("-") else column.asc()
    # Two steps: pick the page's ids from the (status, desk, ...) index first, then join the
    # 50 chosen rows only, so the page costs the same at 1,000 or 1,000,000 decisions.
    # The sort key is wrapped in an expression so SQLite never walks a single-column index
    # (buyer_id, business_date) across the whole table to avoid a small sort.
    key_expr = func.coalesce(column, null())
    page_ids = (
        _scope(select(Decision.decision_id).where(*filters), actor)
        .order_by(key_expr.desc() if sort.startswith("-") else key_expr.asc(), Decision.decision_id.asc())
        .limit(page_size)
        .offset((page - 1) * page_size)
        .scalar_subquery()
    )
    stmt = (
        select(
            Decision.decision_id,
            Decision.business_date,
            Decision.buyer_id,
            Buyer.name,
            Decision.desk,
            Decision.status,
            Decision.decision_type,
            Decision.previous_cents,
            Decision.proposed_cents,
            Decision.required_authority_cents,
            ReviewTask.status,
            ReviewTask.approvals_needed,
            ReviewTask.first_arbiter_id,
            Decision.version,
        )
        .outerjoin(ReviewTask, ReviewTask.decision_id == Decision.decision_id)
        .outerjoin(Buyer, Buyer.buyer_id == Decision.buyer_id)
        .where(Decision.decision_id.in_(page_ids))
        .order_by(order, Decision.decision_id.asc())
    )
    rows = [QueueRow(*cast(tuple[Any, ...], row)) for row in session.execute(stmt).all()]
    return QueuePage(rows=rows, total=total, page=page, page_size=page_size)


def desks_in_scope(session: Session, *, actor: Principal) -> list[str]:
    """Desk codes for the filter box: the actor's own, or (all-desk users) those with referrals."""
    if not actor.all_desks:
        return sorted(actor.desks)
    found = session.scalars(
        select(Decision.desk)
        .where(Decision.status == "referred", Decision.desk.is_not(None))
        .distinct()
        .limit(200)
    )
    return sorted(d for d in found if d)


@dataclass
class Dossier:
    buyer: dict[str, Any]
    scores: list[dict[str, Any]]
    reason_codes: list[str]
    legal_events: list[dict[str, Any]]
    payments: list[dict[str, Any]]
    exposure: list[dict[str, Any]]
    exposure_total_cents: int
    outstanding_total_cents: int
    decisions: list[dict[str, Any]] = field(default_factory=list)


def _json(text: str | None, default: Any) -> Any:
    try:
        return json.loads(text) if text else default
    except ValueError:
        return {"unreadable": text}


def buyer_visible(session: Session, *, actor: Principal, buyer_id: str) -> bool:
    """A buyer is in scope when one of its decisions is routed to one of the actor's desks."""
    if actor.all_desks:
        return True
    hit = session.scalar(
        select(Decision.decision_id)
        .where(Decision.buyer_id == buyer_id, Decision.desk.in_(sorted(actor.desks)))
        .limit(1)
    )
    return hit is not None


def dossier(session: Session, *, actor: Principal, buyer_id: str) -> Dossier:
    """Everything an arbiter weighs, for one buyer, in bounded indexed queries."""
    buyer = session.get(Buyer, buyer_id)
    if buyer is None or not buyer_visible(session, actor=actor, buyer_id=buyer_id):
        raise NotFoundError(f"no buyer {buyer_id!r} in your desks")
    identity = {
        "buyer_id": buyer.buyer_id,
        "siren": buyer.siren,
        "name": buyer.name,
        "country": buyer.country,
        "naf_code": buyer.naf_code,
        "legal_category": buyer.legal_category,
        "creation_date": buyer.creation_date,
        "size_category": buyer.size_category,
        "status": buyer.status,
        "is_natural_person": buyer.is_natural_person,
    }
    scores = mapped_rows(
        session,
        select(Score.as_of, Score.pd_12m, Score.grade, Score.rating, Score.model_version, Score.reason_codes)
        .where(
            Score.as_of.in_(recent_dates(session, "score", HISTORY_POINTS, "role = 'champion'")),
            Score.role == "champion",
            Score.buyer_id == buyer_id,
        )
        .order_by(Score.as_of),
    )
    reason_codes = [c for c in (scores[-1]["reason_codes"] or "").split(",") if c] if scores else []
    events = mapped_rows(
        session,
        select(
            LegalEvent.notice_id,
            LegalEvent.event_type,
            LegalEvent.nature_raw,
            LegalEvent.event_date,
            LegalEvent.publication_date,
            LegalEvent.cancelled,
        )
        .where(LegalEvent.buyer_id == buyer_id)
        .order_by(LegalEvent.publication_date.desc())
        .limit(EVENTS_SHOWN),
    )
    payments = payment_history(session, buyer_id)
    exposure = mapped_rows(
        session,
        select(
            CreditLimit.limit_id,
            CreditLimit.policy_id,
            Policy.policyholder_id,
            Policyholder.name.label("policyholder_name"),
            CreditLimit.granted_cents,
            CreditLimit.outstanding_cents,
            CreditLimit.requested_cents,
            CreditLimit.status,
            CreditLimit.version,
        )
        .outerjoin(Policy, Policy.policy_id == CreditLimit.policy_id)
        .outerjoin(Policyholder, Policyholder.policyholder_id == Policy.policyholder_id)
        .where(CreditLimit.buyer_id == buyer_id)
        .order_by(CreditLimit.granted_cents.desc())
        .limit(200),
    )
    decisions = mapped_rows(
        session,
        select(
            Decision.decision_id,
            Decision.limit_id,
            Decision.business_date,
            Decision.policyholder_id,
            Decision.decision_type,
            Decision.reason_code,
            Decision.previous_cents,
            Decision.proposed_cents,
            Decision.final_cents,
            Decision.status,
            Decision.desk,
            Decision.required_authority_cents,
            Decision.rule_set_version,
            Decision.model_version,
            Decision.fired_rules,
            Decision.observed,
            Decision.explanation,
            Decision.version,
        )
        .where(Decision.buyer_id == buyer_id)
        .order_by(Decision.business_date.desc(), Decision.decision_id.desc())
        .limit(DECISIONS_SHOWN),
    )
    for row in decisions:
        row["fired_rules"] = _json(row["fired_rules"], [])
        row["observed"] = _json(row["observed"], {})
        row["in_scope"] = actor.covers(row["desk"])
    return Dossier(
        buyer=identity,
        scores=scores,
        reason_codes=reason_codes,
        legal_events=events,
        payments=payments,
        exposure=exposure,
        exposure_total_cents=sum(int(r["granted_cents"] or 0) for r in exposure),
        outstanding_total_cents=sum(int(r["outstanding_cents"] or 0) for r in exposure),
        decisions=decisions,
    )


def decision_detail(session: Session, *, actor: Principal, decision_id: int) -> dict[str, Any]:
    """One decision with its task and limit, for the act screen and ``GET /api/decisions/{id}``."""
    stmt = (
        select(
            Decision,
            ReviewTask,
            CreditLimit.requested_cents,
            CreditLimit.request_type,
            CreditLimit.granted_cents,
            Buyer.name,
        )
        .outerjoin(ReviewTask, ReviewTask.decision_id == Decision.decision_id)
        .outerjoin(CreditLimit, CreditLimit.limit_id == Decision.limit_id)
        .outerjoin(Buyer, Buyer.buyer_id == Decision.buyer_id)
        .where(Decision.decision_id == decision_id)
    )
    found = session.execute(stmt).first()
    if found is None or not actor.covers(found[0].desk):
        raise NotFoundError(f"no decision {decision_id} in your desks")
    d, task, requested, request_type, granted, name = found
    return {
        "decision_id": d.decision_id,
        "limit_id": d.limit_id,
        "business_date": d.business_date,
        "buyer_id": d.buyer_id,
        "buyer_name": name,
        "policy_id": d.policy_id,
        "policyholder_id": d.policyholder_id,
        "desk": d.desk,
        "status": d.status,
        "decision_type": d.decision_type,
        "reason_code": d.reason_code,
        "reason_rule": d.reason_rule,
        "previous_cents": d.previous_cents,
        "proposed_cents": d.proposed_cents,
        "final_cents": d.final_cents,
        "requested_cents": requested,
        "request_type": request_type,
        "granted_cents": granted,
        "required_authority_cents": d.required_authority_cents,
        "four_eyes": bool(d.four_eyes),
        "rule_set_version": d.rule_set_version,
        "model_version": d.model_version,
        "fired_rules": _json(d.fired_rules, []),
        "observed": _json(d.observed, {}),
        "explanation": d.explanation,
        "version": d.version,
        "task": None
        if task is None
        else {
            "status": task.status,
            "approvals_needed": task.approvals_needed,
            "required_authority_cents": task.required_authority_cents,
            "first_arbiter_id": task.first_arbiter_id,
            "first_amount_cents": task.first_amount_cents,
        },
    }
