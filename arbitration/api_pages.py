"""The web pages: queue, buyer dossier, act on a decision, change a limit.

Routes are thin: read the signed-in user, check the CSRF token on POST, call the same
services as the JSON API, render a template. Form bodies are pydantic models with
``extra="forbid"`` (no mass assignment); amounts arrive as text and are parsed by
:func:`arbitration.review.eur_to_cents` so a bad amount gets a clear message.
"""

from __future__ import annotations

import json
from pathlib import Path as PathType
from typing import Annotated, Any, Literal, cast

from fastapi import APIRouter, Depends, Form, Path, Query, Request
from fastapi.responses import RedirectResponse, Response
from pydantic import BaseModel, ConfigDict, Field

from arbitration import review, review_limits, review_queries
from arbitration.api_json import BUYER_ID, MAX_ID
from arbitration.api_security import csrf_token, page_user, uow, verify_csrf
from arbitration.api_svg import pd_history_svg
from arbitration.rules import RuleSet, RuleSetError, load_rule_set
from arbitration.rules.schema import Motive
from arbitration.users import DESK_PATTERN, InvalidInputError, Principal

router = APIRouter(include_in_schema=False)
User = Annotated[Principal, Depends(page_user)]


def _render(request: Request, name: str, user: Principal, status_code: int = 200, **context: Any) -> Response:
    return request.app.state.templates.TemplateResponse(
        request, name, {"user": user, "csrf": csrf_token(request), **context}, status_code=status_code
    )


@router.get("/")
def home() -> Response:
    return RedirectResponse("/queue", status_code=303)


@router.get("/queue")
def queue_page(
    request: Request,
    user: User,
    desk: Annotated[str | None, Query(pattern=rf"^(|{DESK_PATTERN})$")] = None,
    status: review_queries.StatusFilter = "referred",
    decision_type: Annotated[str, Query(pattern=r"^\d{0,2}$")] = "",
    sort: review_queries.SortKey = "-authority",
    page: Annotated[int, Query(ge=1, le=100_000)] = 1,
    page_size: Annotated[int, Query(ge=1, le=review_queries.MAX_PAGE_SIZE)] = 50,
) -> Response:
    with uow(request) as session:
        result = review_queries.queue(
            session,
            actor=user,
            desk=desk or None,
            status=status or None,
            decision_type=int(decision_type) if decision_type else None,
            sort=sort,
            page=page,
            page_size=page_size,
        )
        desks = review_queries.desks_in_scope(session, actor=user)
    filters = {"desk": desk or "", "status": status, "decision_type": decision_type, "sort": sort}
    return _render(
        request, "queue.html", user, result=result, desks=desks, filters=filters, page_size=page_size
    )


def _live_trace(request: Request, session: Any, decision: dict[str, Any]) -> tuple[str | None, str | None]:
    """Re-run the engine on the one limit (same code as the batch), with the cached rule set.
    Imported when used: the engine is not needed to start the admin server."""
    from arbitration import explain

    try:
        found = explain.explain_limit(
            session,
            limit_id=decision["limit_id"],
            as_of=decision["business_date"],
            settings=request.app.state.settings,
            rule_set=_active_rules(request),
        )
    except explain.LimitNotFoundError as exc:
        return None, f"no live trace: {exc}"
    return json.dumps(found.as_dict(), indent=2, default=str, ensure_ascii=False), None


@router.get("/buyers/{buyer_id}")
def dossier_page(
    request: Request,
    user: User,
    buyer_id: Annotated[str, Path(pattern=BUYER_ID)],
    trace: Annotated[int | None, Query(ge=1, le=MAX_ID)] = None,
) -> Response:
    live, live_note = None, None
    with uow(request) as session:
        found = review_queries.dossier(session, actor=user, buyer_id=buyer_id)
        if trace is not None:
            chosen = next((d for d in found.decisions if d["decision_id"] == trace), None)
            if chosen is None:
                raise InvalidInputError(f"decision {trace} is not one of this buyer's decisions")
            live, live_note = _live_trace(request, session, chosen)
    plot = pd_history_svg([(s["as_of"], s["pd_12m"], s["grade"]) for s in found.scores])
    return _render(
        request, "dossier.html", user, d=found, plot=plot, trace=trace, live=live, live_note=live_note
    )


@router.get("/decisions/{decision_id}")
def decision_page(
    request: Request,
    user: User,
    decision_id: Annotated[int, Path(ge=1, le=MAX_ID)],
    done: Annotated[str, Query(max_length=40, pattern=r"^[a-z_]*$")] = "",
) -> Response:
    with uow(request) as session:
        detail = review_queries.decision_detail(session, actor=user, decision_id=decision_id)
    motive, motive_error = _motive(request, detail["reason_rule"])
    return _render(
        request, "decision.html", user, d=detail, done=done, motive=motive, motive_error=motive_error
    )


def _motive(request: Request, rule_id: str | None) -> tuple[Motive | None, str | None]:
    """The motive the policyholder reads for a decision coded by ``rule_id``, from the active
    rule set (the e-mail takes it from there too); an unreadable rule set is said, not hidden."""
    if not rule_id:
        return None, None
    try:
        motives = _active_rules(request).motives
    except RuleSetError as exc:
        return None, f"the active rule set cannot be read: {exc}"
    return motives.get(rule_id), None


def _active_rules(request: Request) -> RuleSet:
    """The active rule set, parsed again only when a file of its folder changed (parsing and
    validating it takes ~0.1 s: too long to repeat on every page an arbiter opens)."""
    folder = PathType(request.app.state.settings.paths.rules_dir)
    stamp = tuple(sorted((f.name, f.stat().st_mtime_ns, f.stat().st_size) for f in folder.glob("*.yaml")))
    cached = getattr(request.app.state, "rules_cache", None)
    if cached is not None and cached[0] == stamp:
        return cast(RuleSet, cached[1])
    rule_set = load_rule_set(folder)
    request.app.state.rules_cache = (stamp, rule_set)
    return rule_set


class ActForm(BaseModel):
    model_config = ConfigDict(extra="forbid")
    action: Literal["approve", "amend", "refuse"]
    version: int = Field(ge=1, le=MAX_ID)
    comment: str = Field(default="", max_length=review.MAX_COMMENT)
    amount_eur: str = Field(default="", max_length=40)
    csrf_token: str = Field(default="", max_length=200)


@router.post("/decisions/{decision_id}/act")
def act(
    request: Request,
    user: User,
    decision_id: Annotated[int, Path(ge=1, le=MAX_ID)],
    form: Annotated[ActForm, Form()],
) -> Response:
    verify_csrf(request, form.csrf_token)
    with uow(request) as session:
        if form.action == "approve":
            result = review.approve(
                session,
                actor=user,
                decision_id=decision_id,
                expected_version=form.version,
                comment=form.comment,
            )
        elif form.action == "refuse":
            result = review.refuse(
                session,
                actor=user,
                decision_id=decision_id,
                expected_version=form.version,
                comment=form.comment,
            )
        else:
            if not form.amount_eur.strip():
                raise InvalidInputError("amending needs an amount in euros (found none)")
            result = review.amend(
                session,
                actor=user,
                decision_id=decision_id,
                expected_version=form.version,
                amount_cents=review.eur_to_cents(form.amount_eur),
                comment=form.comment,
            )
    return RedirectResponse(f"/decisions/{decision_id}?done={result.outcome}", status_code=303)


@router.get("/limits/{limit_id}")
def limit_page(request: Request, user: User, limit_id: Annotated[int, Path(ge=1, le=MAX_ID)]) -> Response:
    with uow(request) as session:
        row, desk = review_limits.load_limit(session, actor=user, limit_id=limit_id)
        limit = {
            c: getattr(row, c)
            for c in (
                "limit_id",
                "policy_id",
                "buyer_id",
                "granted_cents",
                "requested_cents",
                "outstanding_cents",
                "status",
                "version",
            )
        }
    return _render(request, "limit.html", user, limit=limit, desk=desk)


class LimitForm(BaseModel):
    model_config = ConfigDict(extra="forbid")
    version: int = Field(ge=1, le=MAX_ID)
    amount_eur: str = Field(default="", max_length=40)
    comment: str = Field(default="", max_length=review.MAX_COMMENT)
    csrf_token: str = Field(default="", max_length=200)


@router.post("/limits/{limit_id}")
def change_limit(
    request: Request,
    user: User,
    limit_id: Annotated[int, Path(ge=1, le=MAX_ID)],
    form: Annotated[LimitForm, Form()],
) -> Response:
    verify_csrf(request, form.csrf_token)
    with uow(request) as session:
        made = review_limits.change_limit(
            session,
            actor=user,
            limit_id=limit_id,
            expected_version=form.version,
            granted_cents=review.eur_to_cents(form.amount_eur),
            comment=form.comment,
            business_date=request.app.state.today(),
        )
        buyer_id = made.buyer_id
    return RedirectResponse(f"/buyers/{buyer_id}", status_code=303)
