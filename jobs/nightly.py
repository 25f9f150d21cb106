"""The nightly run: ingest -> aggregate -> score -> monitor -> arbitrate -> eligibility -> outbox -> send
-> report.

Steps are grouped into units of work. Each group runs in one transaction together with the
ledger rows that mark its steps done, so a crash (kill -9 included) leaves every group either
entirely done or not started, and running the same business date again resumes at the first
group not done. Decisions, their eligibility and the notification outbox form one group: the
outbox is written in the same transaction as the decisions it announces, so no decision can
exist without its e-mail being queued. Sending is its own group and commits per message.
A group whose reads an arbiter changed before it wrote over them (``ChangedMeanwhile``) is
rolled back and run again on what is committed then.
"""

from __future__ import annotations

import gc
import logging
import time
import warnings
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date
from typing import Any, NoReturn

from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from config.settings import Settings
from jobs.ledger import RunState, finish_run, open_run, record_step
from jobs.run_lock import run_lock
from models import scratch
from models.bulk_read import reads_ahead, start_reader
from models.checkpoint import Checkpointer, checkpoints
from models.db import ChangedMeanwhile, session_factory

log = logging.getLogger("vigie.nightly")


@dataclass
class NightContext:
    """What a step receives: the open session of its group, the settings and the run."""

    session: Session
    sessions: sessionmaker[Session]
    settings: Settings
    as_of: date
    run_id: int
    handed: dict[str, Any] = field(default_factory=dict)
    """What an earlier step of this process hands to a later one (the score step's frames to
    arbitration). Empty after a restart: a resumed run reads everything from the database."""
    group: tuple[str, ...] = ()
    """The names of the steps of this unit of work (one transaction)."""


StepFunction = Callable[[NightContext], dict[str, Any]]


class WorkUnderWay:
    """A value a step hands over that is work still running for its unit of work (a thread
    computing ahead, :mod:`jobs.ahead`): told to stop when what was handed over is dropped."""

    def cancel(self) -> None:
        raise NotImplementedError


def drop_handed(handed: dict[str, Any]) -> None:
    """Forget what the steps handed over (their unit of work was rolled back, or the night is
    over); work still under way for it is told to stop first."""
    for value in handed.values():
        if isinstance(value, WorkUnderWay):
            value.cancel()
    handed.clear()


@dataclass(frozen=True)
class Step:
    name: str
    run: StepFunction
    description: str


STEP_PLAN: tuple[tuple[tuple[str, str], ...], ...] = (
    (("ingest", "read the night's feed files"),),
    (("aggregate", "refresh the payment aggregates per buyer"),),
    (("score", "compute features and score every buyer with the champion model"),),
    (("monitor", "population stability, backtest and override rate"),),
    (
        ("arbitrate", "evaluate the rule sets over every limit; apply or refer"),
        ("eligibility", "OAL deadlines and CAP-family eligibility"),
        ("outbox", "queue one e-mail per policyholder with its modifications"),
    ),
    (("send", "send queued e-mails (retries 4xx, dead-letters 5xx)"),),
    (("report", "portfolio indicators, plots and the run report"),),
)
"""The steps in order, grouped by unit of work (one transaction per group)."""


def default_groups() -> tuple[tuple[Step, ...], ...]:
    """The real steps (imported here, not at module load: the CLI stays quick to start)."""
    from jobs import steps

    return tuple(tuple(Step(name, getattr(steps, name), text) for name, text in group) for group in STEP_PLAN)


STEP_NAMES: tuple[str, ...] = tuple(name for group in STEP_PLAN for name, _ in group)


class RunFailed(Exception):
    """A step failed; the run is marked failed with this reason and can be resumed."""


@dataclass
class NightResult:
    business_date: date
    run_id: int
    status: str
    resumed: bool = False
    already_done: bool = False
    steps_run: list[str] = field(default_factory=list)
    counts: dict[str, dict[str, Any]] = field(default_factory=dict)


BATCH_GC_THRESHOLDS = (100_000, 50, 100)
"""The cyclic collector's thresholds during a night (Python's default: 700, 10, 10)."""


@contextmanager
def batch_collector() -> Iterator[None]:
    """Run the cyclic garbage collector less often while the night runs. A night makes and
    drops millions of tuples (rows handed to the database driver, read from it); at the default
    threshold every 700 new containers start a collection, and the older generations, rescanned
    as they fill, hold everything alive: 4-5 % of a first night's CPU samples (perf) were the
    collector. Memory is unchanged: these objects are freed by their reference counts."""
    before = gc.get_threshold()
    gc.set_threshold(*BATCH_GC_THRESHOLDS)
    try:
        yield
    finally:
        gc.set_threshold(*before)


def run_night(
    engine: Engine,
    settings: Settings,
    *,
    as_of: date,
    progress: Callable[[str, str], None] | None = None,
    stop_after: str | None = None,
    groups: Sequence[Sequence[Step]] | None = None,
) -> NightResult:
    """Run (or resume) the night of ``as_of``. Idempotent: a succeeded night is not redone.

    ``stop_after`` ends the run after the named step, leaving it resumable (operators use it
    to inspect a night halfway; tests use it to prove resumption)."""
    sessions = session_factory(engine)
    # imported before the warning filters are saved below: the filters libraries add as they
    # are first imported (NumPy's, SciPy's) stay after the night
    plan = groups if groups is not None else default_groups()
    if engine.dialect.name == "sqlite":
        start_reader()  # the bulk reads' process: started beside the first steps
        for left in scratch.sweep():
            log.warning("removed %s, left by a process that is gone", left)
    with (
        # the night's threads (the rules' chunks, scoring's slices, the work computed ahead) run
        # library code that enters warnings.catch_warnings(), not thread-safe in Python 3.11: an
        # interleaving can leave one thread's filter set; they are put back as they were when the
        # night ends (a scheduler process runs many nights)
        warnings.catch_warnings(),
        batch_collector(),
        reads_ahead(),
        run_lock(engine, business_date=as_of, lock_dir=settings.workdir / "locks"),
        checkpoints(engine) as checkpointer,
    ):
        with sessions.begin() as session:
            state = open_run(session, business_date=as_of)
        result = NightResult(as_of, state.run_id, state.status, resumed=state.resumed)
        if state.status == "succeeded":
            result.already_done = True
            return result
        handed: dict[str, Any] = {}
        try:
            stopped = _run_groups(
                sessions,
                settings,
                plan,
                as_of=as_of,
                state=state,
                result=result,
                progress=progress,
                handed=handed,
                checkpointer=checkpointer,
                stop_after=stop_after,
            )
        finally:
            drop_handed(handed)
        if stopped:
            result.status = "running"
            return result
        with sessions.begin() as session:
            finish_run(session, run_id=state.run_id, status="succeeded")
        result.status = "succeeded"
        return result


def _run_groups(
    sessions: sessionmaker[Session],
    settings: Settings,
    groups: Sequence[Sequence[Step]],
    *,
    as_of: date,
    state: RunState,
    result: NightResult,
    progress: Callable[[str, str], None] | None,
    handed: dict[str, Any],
    checkpointer: Checkpointer | None,
    stop_after: str | None,
) -> bool:
    """Run the groups not done yet, in order; True when stopped after ``stop_after``."""
    ordinal = 0
    for group in groups:
        names = [step.name for step in group]
        ordinal += len(group)
        if all(name in state.done_steps for name in names):
            continue
        for attempt in range(1, GROUP_ATTEMPTS + 1):
            try:
                _run_group(
                    sessions,
                    settings,
                    group,
                    as_of=as_of,
                    state_run_id=state.run_id,
                    first_ordinal=ordinal - len(group) + 1,
                    result=result,
                    progress=progress,
                    handed=handed,
                    attempt=attempt,
                    checkpointer=checkpointer,
                )
                break
            except ChangedMeanwhile as exc:  # rolled back: run again from the database,
                drop_handed(handed)  # as a resumed night does, without what was handed over
                log.warning("run %s: %s; the unit of work (attempt %d) is run again", as_of, exc, attempt)
        if stop_after is not None and stop_after in names:
            return True
    return False


GROUP_ATTEMPTS = 3
"""Times a unit of work is run before the night fails when what it read keeps being changed
under it (:class:`models.db.ChangedMeanwhile`: an arbiter changed a limit the night decided,
or the decisions did not get the ids read for them before their insert)."""


def _run_group(
    sessions: sessionmaker[Session],
    settings: Settings,
    group: Sequence[Step],
    *,
    as_of: date,
    state_run_id: int,
    first_ordinal: int,
    result: NightResult,
    progress: Callable[[str, str], None] | None,
    handed: dict[str, Any],
    attempt: int,
    checkpointer: Checkpointer | None = None,
) -> None:
    """Run ``group`` in one transaction with the ledger rows of its steps. Raises
    :class:`ChangedMeanwhile` (rolled back) for the caller to run it again, but on the last
    of :data:`GROUP_ATTEMPTS`, and :class:`RunFailed` (the run marked failed) on any error.
    With a ``checkpointer`` (SQLite), the commit leaves the copy of the log into the database
    file to its thread (see :mod:`models.checkpoint`)."""
    session = sessions()
    current = group[0]
    done: list[tuple[Step, dict[str, Any]]] = []
    try:
        if checkpointer is not None:
            checkpointer.defer(session)
        for offset, step in enumerate(group):
            current = step
            if progress:
                progress(step.name, step.description)
            started = time.perf_counter()
            context = NightContext(
                session, sessions, settings, as_of, state_run_id, handed, tuple(s.name for s in group)
            )
            counts = step.run(context)
            if attempt > 1:
                counts = {**counts, "attempts": attempt}  # in the ledger: the unit was run again
            record_step(
                session,
                run_id=state_run_id,
                name=step.name,
                ordinal=first_ordinal + offset,
                status="succeeded",
                seconds=time.perf_counter() - started,
                counts=counts,
            )
            done.append((step, counts))
        session.commit()
    except ChangedMeanwhile as exc:
        session.rollback()
        if attempt < GROUP_ATTEMPTS:
            raise
        _fail(sessions, group, current, state_run_id, first_ordinal, exc)
    except Exception as exc:
        session.rollback()
        _fail(sessions, group, current, state_run_id, first_ordinal, exc)
    finally:
        session.close()
    if checkpointer is not None:
        checkpointer.start()  # committed: the log is copied beside the next steps
    for step, counts in done:  # only once committed: a unit run again is reported once
        result.counts[step.name] = counts
        result.steps_run.append(step.name)
        log.info("run %s step %s done: %s", as_of, step.name, counts)


def _fail(
    sessions: sessionmaker[Session],
    group: Sequence[Step],
    current: Step,
    state_run_id: int,
    first_ordinal: int,
    exc: Exception,
) -> NoReturn:
    """Record ``current`` failed and the run failed with its reason; raise :class:`RunFailed`."""
    reason = f"step {current.name} failed: {exc}"
    with sessions.begin() as failure:
        record_step(
            failure,
            run_id=state_run_id,
            name=current.name,
            ordinal=first_ordinal + list(group).index(current),
            status="failed",
            seconds=0.0,
            error=str(exc),
        )
        finish_run(failure, run_id=state_run_id, status="failed", error=reason)
    raise RunFailed(reason) from exc
