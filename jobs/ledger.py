"""The run ledger: one ``run`` row per business date and one ``run_step`` row per step.

The ledger is the truth about what a night has done. A step's row is marked ``succeeded``
in the same transaction as the step's own writes, so after a crash at any point a step is
either entirely done (work and mark) or not at all, and the next invocation resumes at the
first step not marked.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import date
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from models.base import utcnow
from models.run import Run, RunStep


@dataclass(frozen=True)
class RunState:
    """What the ledger says about a business date when a run starts."""

    run_id: int
    status: str
    done_steps: frozenset[str]
    resumed: bool


def open_run(session: Session, *, business_date: date) -> RunState:
    """Create the run of ``business_date`` or reopen it (a failed or interrupted run resumes;
    a succeeded one is reported as such). The caller holds the run lock and commits."""
    run = session.execute(select(Run).where(Run.business_date == business_date)).scalar_one_or_none()
    if run is None:
        run = Run(business_date=business_date, status="running", attempts=1)
        session.add(run)
        session.flush()
        return RunState(run.run_id, "running", frozenset(), resumed=False)
    done = frozenset(
        session.execute(
            select(RunStep.name).where(RunStep.run_id == run.run_id, RunStep.status == "succeeded")
        ).scalars()
    )
    if run.status == "succeeded":
        return RunState(run.run_id, "succeeded", done, resumed=False)
    run.status = "running"
    run.error = None
    run.finished_at = None
    run.attempts += 1
    return RunState(run.run_id, "running", done, resumed=True)


def record_step(
    session: Session,
    *,
    run_id: int,
    name: str,
    ordinal: int,
    status: str,
    seconds: float,
    counts: dict[str, Any] | None = None,
    error: str | None = None,
) -> None:
    """Write (or overwrite, on a retried step) the outcome of one step."""
    step = session.execute(
        select(RunStep).where(RunStep.run_id == run_id, RunStep.name == name)
    ).scalar_one_or_none()
    if step is None:
        step = RunStep(run_id=run_id, name=name, ordinal=ordinal)
        session.add(step)
    step.status = status
    step.seconds = round(seconds, 3)
    step.counts = json.dumps(counts or {}, default=str, sort_keys=True)
    step.error = error
    step.finished_at = utcnow()
    session.flush()


def finish_run(session: Session, *, run_id: int, status: str, error: str | None = None) -> None:
    run = session.get(Run, run_id)
    if run is None:
        raise LookupError(f"run {run_id} not found in the ledger")
    run.status = status
    run.error = error
    run.finished_at = utcnow()


def step_counts(session: Session, *, run_id: int, name: str) -> dict[str, Any]:
    """The counts a finished step recorded (empty when the step has not run)."""
    raw = session.execute(
        select(RunStep.counts).where(RunStep.run_id == run_id, RunStep.name == name)
    ).scalar_one_or_none()
    return dict(json.loads(raw)) if raw else {}
