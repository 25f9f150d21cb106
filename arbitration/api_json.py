"""The JSON API: the same screens as data, for scripts and other systems (bearer tokens).

Bodies are pydantic models with ``extra="forbid"``: a client cannot slip ``status`` or
``final_cents`` into an approval (mass assignment). Routes are thin: parse, call the
service, shape the answer.
"""

from __future__ import annotations

from dataclasses import asdict
from datetime import date
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Path, Query, Request
from pydantic import BaseModel, ConfigDict, Field

from arbitration import review, review_limits, review_queries
from arbitration.api_security import api_user, uow
from arbitration.users import DESK_PATTERN, Principal

MAX_ID = 2**31 - 1
SAFE_TEXT = r"^[^\x00]*$"
DESK = rf"^{DESK_PATTERN}$"
BUYER_ID = r"^[A-Za-z0-9_-]{1,32}$"

router = APIRouter(prefix="/api", tags=["api"])
User = Annotated[Principal, Depends(api_user)]
DecisionId = Annotated[int, Path(ge=1, le=MAX_ID, description="decision id")]
LimitId = Annotated[int, Path(ge=1, le=MAX_ID, description="credit limit id")]


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ApproveIn(Strict):
    version: int = Field(ge=1, le=MAX_ID, description="the decision version you saw (optimistic concurrency)")
    comment: str = Field(min_length=1, max_length=review.MAX_COMMENT, pattern=SAFE_TEXT)


class RefuseIn(ApproveIn):
    pass


class AmendIn(ApproveIn):
    amount_cents: int = Field(ge=0, le=review.MAX_CENTS, description="amount decided, in euro cents")


class LimitIn(Strict):
    version: int = Field(ge=1, le=MAX_ID, description="the limit version you saw")
    granted_cents: int = Field(ge=0, le=review.MAX_CENTS)
    comment: str = Field(min_length=1, max_length=review.MAX_COMMENT, pattern=SAFE_TEXT)


class ActOut(BaseModel):
    outcome: Literal["decided", "awaiting_second"]
    decision_id: int
    status: str
    final_cents: int | None
    version: int


class MeOut(BaseModel):
    username: str
    role: str
    desks: list[str]
    authority_cents: int


class QueueRowOut(BaseModel):
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


class QueueOut(BaseModel):
    rows: list[QueueRowOut]
    total: int
    page: int
    page_size: int


class DossierOut(BaseModel):
    buyer: dict[str, Any]
    scores: list[dict[str, Any]]
    reason_codes: list[str]
    legal_events: list[dict[str, Any]]
    payments: list[dict[str, Any]]
    exposure: list[dict[str, Any]]
    exposure_total_cents: int
    outstanding_total_cents: int
    decisions: list[dict[str, Any]]


class LimitOut(BaseModel):
    limit_id: int
    policy_id: str
    buyer_id: str
    desk: str | None
    granted_cents: int
    requested_cents: int | None
    outstanding_cents: int
    status: str
    version: int


class ChangeOut(BaseModel):
    decision_id: int
    limit_id: int
    granted_cents: int
    status: str


def _act(result: review.ActResult) -> ActOut:
    return ActOut(**asdict(result))


@router.get("/me", response_model=MeOut, summary="Who am I (role, desks, authority)")
def me(user: User) -> MeOut:
    return MeOut(
        username=user.username,
        role=user.role.value,
        desks=sorted(user.desks),
        authority_cents=user.authority_cents,
    )


@router.get("/queue", response_model=QueueOut, summary="Decisions in my desks (filter, sort, paginate)")
def queue(
    request: Request,
    user: User,
    desk: Annotated[str | None, Query(pattern=DESK)] = None,
    status: Annotated[
        review_queries.StatusFilter,
        Query(description="decision status; empty = any"),
    ] = "referred",
    decision_type: Annotated[int | None, Query(ge=1, le=99)] = None,
    sort: review_queries.SortKey = "-authority",
    page: Annotated[int, Query(ge=1, le=100_000)] = 1,
    page_size: Annotated[int, Query(ge=1, le=review_queries.MAX_PAGE_SIZE)] = 50,
) -> QueueOut:
    with uow(request) as session:
        result = review_queries.queue(
            session,
            actor=user,
            desk=desk,
            status=status or None,
            decision_type=decision_type,
            sort=sort,
            page=page,
            page_size=page_size,
        )
    return QueueOut(
        rows=[QueueRowOut(**asdict(r)) for r in result.rows],
        total=result.total,
        page=result.page,
        page_size=result.page_size,
    )


@router.get("/buyers/{buyer_id}", response_model=DossierOut, summary="Buyer dossier")
def buyer(request: Request, user: User, buyer_id: Annotated[str, Path(pattern=BUYER_ID)]) -> DossierOut:
    with uow(request) as session:
        found = review_queries.dossier(session, actor=user, buyer_id=buyer_id)
    return DossierOut(**asdict(found))


@router.get("/decisions/{decision_id}", summary="One decision with its rule trace and review task")
def decision(request: Request, user: User, decision_id: DecisionId) -> dict[str, Any]:
    with uow(request) as session:
        return review_queries.decision_detail(session, actor=user, decision_id=decision_id)


@router.post("/decisions/{decision_id}/approve", response_model=ActOut, summary="Approve the proposed amount")
def approve(request: Request, user: User, decision_id: DecisionId, body: ApproveIn) -> ActOut:
    with uow(request) as session:
        result = review.approve(
            session, actor=user, decision_id=decision_id, expected_version=body.version, comment=body.comment
        )
    return _act(result)


@router.post("/decisions/{decision_id}/amend", response_model=ActOut, summary="Decide another amount")
def amend(request: Request, user: User, decision_id: DecisionId, body: AmendIn) -> ActOut:
    with uow(request) as session:
        result = review.amend(
            session,
            actor=user,
            decision_id=decision_id,
            expected_version=body.version,
            amount_cents=body.amount_cents,
            comment=body.comment,
        )
    return _act(result)


@router.post("/decisions/{decision_id}/refuse", response_model=ActOut, summary="Refuse the proposal")
def refuse(request: Request, user: User, decision_id: DecisionId, body: RefuseIn) -> ActOut:
    with uow(request) as session:
        result = review.refuse(
            session, actor=user, decision_id=decision_id, expected_version=body.version, comment=body.comment
        )
    return _act(result)


@router.get("/limits/{limit_id}", response_model=LimitOut, summary="One credit limit in my desks")
def limit(request: Request, user: User, limit_id: LimitId) -> LimitOut:
    with uow(request) as session:
        row, desk = review_limits.load_limit(session, actor=user, limit_id=limit_id)
        return LimitOut(
            limit_id=row.limit_id,
            policy_id=row.policy_id,
            buyer_id=row.buyer_id,
            desk=desk,
            granted_cents=row.granted_cents,
            requested_cents=row.requested_cents,
            outstanding_cents=row.outstanding_cents,
            status=row.status,
            version=row.version,
        )


@router.post("/limits/{limit_id}", response_model=ChangeOut, summary="Change a limit by hand")
def change_limit(request: Request, user: User, limit_id: LimitId, body: LimitIn) -> ChangeOut:
    with uow(request) as session:
        made = review_limits.change_limit(
            session,
            actor=user,
            limit_id=limit_id,
            expected_version=body.version,
            granted_cents=body.granted_cents,
            comment=body.comment,
            business_date=request.app.state.today(),
        )
        return ChangeOut(
            decision_id=made.decision_id,
            limit_id=limit_id,
            granted_cents=body.granted_cents,
            status=made.status,
        )
