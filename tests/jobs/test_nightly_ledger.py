"""The nightly pipeline's ledger: idempotence, failure, resumption after kill -9, one run
per date across processes. The pipeline runs here with small real steps that write rows, so
every write can be counted; the real steps are exercised end to end by the demo tests."""

from __future__ import annotations

import gc
import json
import multiprocessing
import signal
import subprocess
import sys
import textwrap
import warnings
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, func, select, text
from sqlalchemy.orm import Session

from arbitration import service as arbitration_service
from config.settings import Settings
from jobs import steps
from jobs.nightly import (
    BATCH_GC_THRESHOLDS,
    GROUP_ATTEMPTS,
    STEP_PLAN,
    NightContext,
    RunFailed,
    Step,
    WorkUnderWay,
    run_night,
)
from jobs.run_lock import RunLocked, run_lock
from models.audit_log import AuditLog
from models.base import Base
from models.db import ChangedMeanwhile
from models.run import Run, RunStep
from tests.arbitration.portfolio import AS_OF, seed_portfolio

DAY = date(2026, 11, 20)


def writing_step(name: str) -> Step:
    def run(ctx: NightContext) -> dict[str, Any]:
        ctx.session.add(AuditLog(actor="night", action=name, entity="run", entity_id=str(ctx.run_id)))
        return {"wrote": 1}

    return Step(name, run, f"writes one {name} row")


def failing_step(name: str, flag: Path) -> Step:
    def run(ctx: NightContext) -> dict[str, Any]:
        ctx.session.add(AuditLog(actor="night", action=name, entity="run", entity_id=str(ctx.run_id)))
        if not flag.exists():
            raise ValueError(f"{name} input is broken")
        return {"wrote": 1}

    return Step(name, run, "fails until its flag file exists")


def actions(engine: Engine) -> list[str]:
    with Session(engine) as session:
        return list(session.execute(select(AuditLog.action).order_by(AuditLog.audit_id)).scalars())


def groups_with(middle: Step) -> list[list[Step]]:
    return [[writing_step("a")], [writing_step("b1"), middle], [writing_step("c")]]


def test_a_clean_night_records_every_step_and_a_rerun_does_nothing(
    db_engine: Engine, settings: Settings
) -> None:
    groups = groups_with(writing_step("b2"))
    first = run_night(db_engine, settings, as_of=DAY, groups=groups)
    assert first.status == "succeeded"
    assert first.steps_run == ["a", "b1", "b2", "c"]
    again = run_night(db_engine, settings, as_of=DAY, groups=groups)
    assert again.already_done
    assert actions(db_engine) == ["a", "b1", "b2", "c"]
    with Session(db_engine) as session:
        steps = session.execute(select(RunStep.name, RunStep.status, RunStep.counts)).all()
    assert {(n, s) for n, s, _ in steps} == {(n, "succeeded") for n in ("a", "b1", "b2", "c")}
    assert all(json.loads(c) == {"wrote": 1} for _, _, c in steps)


def test_a_failing_step_fails_the_run_with_its_reason_and_the_rerun_resumes_there(
    db_engine: Engine, settings: Settings, tmp_path: Path
) -> None:
    flag = tmp_path / "fixed"
    groups = groups_with(failing_step("b2", flag))
    with pytest.raises(RunFailed, match="step b2 failed: b2 input is broken"):
        run_night(db_engine, settings, as_of=DAY, groups=groups)
    with Session(db_engine) as session:
        run = session.execute(select(Run)).scalar_one()
        assert (run.status, run.error) == ("failed", "step b2 failed: b2 input is broken")
        failed = session.execute(select(RunStep).where(RunStep.name == "b2")).scalar_one()
        assert failed.status == "failed"
    # the group of the failed step was rolled back as a whole: b1 is not half-done
    assert actions(db_engine) == ["a"]
    flag.touch()
    resumed = run_night(db_engine, settings, as_of=DAY, groups=groups)
    assert resumed.resumed and resumed.status == "succeeded"
    assert resumed.steps_run == ["b1", "b2", "c"]
    assert actions(db_engine) == ["a", "b1", "b2", "c"]
    with Session(db_engine) as session:
        assert session.execute(select(Run.attempts)).scalar_one() == 2


def changed_meanwhile_step(name: str, times: int, seen: list[int]) -> Step:
    """Writes its row, then finds what it read changed under it, ``times`` times; ``seen``:
    how many things were handed over to each attempt."""

    def run(ctx: NightContext) -> dict[str, Any]:
        ctx.session.add(AuditLog(actor="night", action=name, entity="run", entity_id=str(ctx.run_id)))
        ctx.session.flush()
        seen.append(len(ctx.handed))
        if len(seen) <= times:
            ctx.handed["stale"] = "from the attempt that failed"
            raise ChangedMeanwhile(f"{name}: a limit changed under it")
        return {"wrote": 1}

    return Step(name, run, "finds its reads changed under it a few times")


def test_a_unit_whose_reads_changed_under_it_is_run_again_from_scratch(
    db_engine: Engine, settings: Settings
) -> None:
    seen: list[int] = []
    middle = changed_meanwhile_step("b2", GROUP_ATTEMPTS - 1, seen)
    result = run_night(db_engine, settings, as_of=DAY, groups=groups_with(middle))
    assert result.status == "succeeded"
    # the rolled-back attempts left nothing: b1 and b2 written once
    assert actions(db_engine) == ["a", "b1", "b2", "c"]
    assert result.steps_run == ["a", "b1", "b2", "c"]
    # what the failed attempt handed over in memory is not seen by the next one
    assert seen == [0] * GROUP_ATTEMPTS
    with Session(db_engine) as session:
        counts = dict(session.execute(select(RunStep.name, RunStep.counts)).tuples().all())
        assert session.execute(select(Run.status)).scalar_one() == "succeeded"
    assert json.loads(counts["b1"]) == json.loads(counts["b2"]) == {"wrote": 1, "attempts": GROUP_ATTEMPTS}
    assert json.loads(counts["a"]) == {"wrote": 1}


def test_a_unit_whose_reads_keep_changing_fails_the_night_with_the_reason(
    db_engine: Engine, settings: Settings
) -> None:
    seen: list[int] = []
    middle = changed_meanwhile_step("b2", GROUP_ATTEMPTS, seen)
    with pytest.raises(RunFailed, match="step b2 failed: b2: a limit changed under it"):
        run_night(db_engine, settings, as_of=DAY, groups=groups_with(middle))
    assert len(seen) == GROUP_ATTEMPTS
    assert actions(db_engine) == ["a"]
    with Session(db_engine) as session:
        assert session.execute(select(Run.status)).scalar_one() == "failed"
        failed = session.execute(select(RunStep).where(RunStep.name == "b2")).scalar_one()
        assert (failed.status, failed.error) == ("failed", "b2: a limit changed under it")


CRASHING_NIGHT = textwrap.dedent(
    """
    import os, signal, sys
    from datetime import date
    from pathlib import Path
    from config.settings import load_settings
    from jobs.nightly import Step, run_night
    from models.audit_log import AuditLog
    from models.db import make_engine

    url, workdir, crash_in = sys.argv[1], Path(sys.argv[2]), sys.argv[3]

    def step(name):
        def run(ctx):
            ctx.session.add(AuditLog(actor="night", action=name, entity="run", entity_id="1"))
            ctx.session.flush()
            marker = workdir / "crashed"
            if name == crash_in and not marker.exists():
                marker.touch()
                os.kill(os.getpid(), signal.SIGKILL)
            return {"wrote": 1}
        return Step(name, run, name)

    groups = [[step("a")], [step("b1"), step("b2")], [step("c")]]
    settings = load_settings(workdir=workdir, database={"url": url})
    run_night(make_engine(url), settings, as_of=date(2026, 11, 20), groups=groups)
    """
)


@pytest.mark.parametrize("crash_in", ["a", "b2", "c"])
def test_after_kill_9_at_any_step_the_rerun_ends_in_the_state_of_a_clean_run(
    db_engine: Engine, db_url: str, tmp_path: Path, crash_in: str
) -> None:
    workdir = tmp_path / "work"
    workdir.mkdir()
    command = [sys.executable, "-c", CRASHING_NIGHT, db_url, str(workdir), crash_in]
    crashed = subprocess.run(command, capture_output=True, text=True, check=False)
    assert crashed.returncode == -signal.SIGKILL, crashed.stderr
    finished = subprocess.run(command, capture_output=True, text=True, check=False)
    assert finished.returncode == 0, finished.stderr
    assert actions(db_engine) == ["a", "b1", "b2", "c"]
    with Session(db_engine) as session:
        assert session.execute(select(Run.status)).scalar_one() == "succeeded"
        assert session.execute(select(func.count()).select_from(RunStep)).scalar_one() == 4


def _hold_lock(url: str, lock_dir: str, ready: Any, release: Any) -> None:
    from models.db import make_engine

    with run_lock(make_engine(url), business_date=DAY, lock_dir=Path(lock_dir)):
        ready.set()
        release.wait(20)


def test_a_second_process_cannot_run_the_same_date_at_the_same_time(
    db_engine: Engine, db_url: str, settings: Settings
) -> None:
    context = multiprocessing.get_context("spawn")
    ready, release = context.Event(), context.Event()
    holder = context.Process(
        target=_hold_lock, args=(db_url, str(settings.workdir / "locks"), ready, release)
    )
    holder.start()
    try:
        assert ready.wait(30)
        with pytest.raises(RunLocked, match="already in progress"):
            run_night(db_engine, settings, as_of=DAY, groups=groups_with(writing_step("b2")))
    finally:
        release.set()
        holder.join(30)
    assert actions(db_engine) == []
    assert (
        run_night(db_engine, settings, as_of=DAY, groups=groups_with(writing_step("b2"))).status
        == "succeeded"
    )


def test_stop_after_leaves_the_run_resumable(db_engine: Engine, settings: Settings) -> None:
    groups = groups_with(writing_step("b2"))
    partial = run_night(db_engine, settings, as_of=DAY, groups=groups, stop_after="b2")
    assert partial.status == "running"
    assert actions(db_engine) == ["a", "b1", "b2"]
    assert run_night(db_engine, settings, as_of=DAY, groups=groups).steps_run == ["c"]


def test_the_collector_runs_less_often_during_a_night_and_as_before_after(
    db_engine: Engine, settings: Settings
) -> None:
    seen: list[tuple[int, ...]] = []

    def run(ctx: NightContext) -> dict[str, Any]:
        seen.append(gc.get_threshold())
        return {}

    before = gc.get_threshold()
    flag = settings.workdir / "missing-flag"
    groups = [[Step("look", run, "records the collector's thresholds")], [failing_step("fail", flag)]]
    with pytest.raises(RunFailed):
        run_night(db_engine, settings, as_of=DAY, groups=groups)
    assert seen == [BATCH_GC_THRESHOLDS] != [before]
    assert gc.get_threshold() == before  # restored, even after a failed step


def _decision_unit() -> list[list[Step]]:
    """The night's real unit of work of decisions, eligibility and the outbox."""
    plan = dict(entry for group in STEP_PLAN for entry in group)
    return [[Step(name, getattr(steps, name), plan[name]) for name in ("arbitrate", "eligibility", "outbox")]]


def _kept(engine: Engine) -> dict[str, list[tuple[object, ...]]]:
    queries = {
        "decision": "SELECT limit_id, decision_type, previous_cents, proposed_cents, status FROM decision",
        "credit_limit": "SELECT limit_id, granted_cents, status, version FROM credit_limit",
        "notification": "SELECT policyholder_id, status FROM notification",
        "eligibility": "SELECT d.limit_id, e.scheme, e.amount_cents FROM eligibility e "
        "JOIN decision d ON d.decision_id = e.decision_id",
    }
    with Session(engine) as session:
        return {name: sorted(tuple(r) for r in session.execute(text(sql))) for name, sql in queries.items()}


def test_the_real_decisions_unit_run_again_after_an_arbiters_change_ends_as_a_night_after_it(
    db_engine: Engine, settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An arbiter changes a limit while the night evaluates the book: the decisions, their
    eligibility and e-mails are rolled back and made again, ending exactly as a night that
    began after the change (and the ledger says the unit ran twice)."""
    change = "UPDATE credit_limit SET granted_cents = 8000000, version = version + 1 WHERE limit_id = 5"
    evaluate = arbitration_service.evaluate_book
    kept = {}
    for when in ("during", "before"):
        Base.metadata.drop_all(db_engine)
        Base.metadata.create_all(db_engine)
        with Session(db_engine) as session:
            seed_portfolio(session)
            if when == "before":
                session.execute(text(change))
            session.commit()
        acted: list[bool] = []

        def evaluate_then_an_arbiter_acts(
            *args: Any, _when: str = when, _acted: list[bool] = acted, **kwargs: Any
        ) -> Any:
            result = evaluate(*args, **kwargs)
            if _when == "during" and not _acted:  # once: the unit run again meets no change
                _acted.append(True)
                with Session(db_engine) as arbiter:
                    arbiter.execute(text(change))
                    arbiter.commit()
            return result

        monkeypatch.setattr(arbitration_service, "evaluate_book", evaluate_then_an_arbiter_acts)
        result = run_night(db_engine, settings, as_of=AS_OF, groups=_decision_unit())
        assert result.status == "succeeded"
        assert result.counts["arbitrate"].get("attempts") == (2 if when == "during" else None)
        kept[when] = _kept(db_engine)
    assert kept["during"] == kept["before"]
    decided = {row[0]: row[2] for row in kept["during"]["decision"]}
    assert decided[5] == 8_000_000  # taken on the arbiter's amount
    assert len(kept["during"]["notification"]) == 2  # one e-mail per policyholder, once


class _Work(WorkUnderWay):
    """Work under way handed over by a step: counts the times it is told to stop."""

    def __init__(self) -> None:
        self.cancelled = 0

    def cancel(self) -> None:
        self.cancelled += 1


def test_work_under_way_is_stopped_when_its_unit_is_run_again_and_when_the_night_fails(
    db_engine: Engine, settings: Settings, tmp_path: Path
) -> None:
    """What a step hands over may be a thread still computing for its unit of work
    (jobs.ahead): a unit rolled back to be run again, or a night that fails, tells it to stop."""
    started: list[_Work] = []

    def hand_over_work(ctx: NightContext) -> dict[str, Any]:
        started.append(_Work())
        ctx.handed["work"] = started[-1]
        return {}

    seen: list[int] = []
    groups = [[Step("hand", hand_over_work, "hands work over"), changed_meanwhile_step("b2", 1, seen)]]
    assert run_night(db_engine, settings, as_of=DAY, groups=groups).status == "succeeded"
    # the first attempt's work stopped when it was rolled back; the second's once the night ended
    assert [work.cancelled for work in started] == [1, 1] and seen == [1, 1]

    started.clear()
    failing = [[Step("hand", hand_over_work, "hands work over"), failing_step("b", tmp_path / "never")]]
    with pytest.raises(RunFailed, match="b input is broken"):
        run_night(db_engine, settings, as_of=DAY + timedelta(days=1), groups=failing)
    assert [work.cancelled for work in started] == [1]


def test_warning_filters_left_behind_by_the_nights_threads_are_put_back_when_it_ends(
    db_engine: Engine, settings: Settings
) -> None:
    """warnings.catch_warnings() is not thread-safe in Python 3.11: a thread of the night can
    leave another's filter set (this step does so on purpose); the night puts them back."""

    def leaves_a_filter(ctx: NightContext) -> dict[str, Any]:
        warnings.simplefilter("error", UserWarning)
        return {}

    before = list(warnings.filters)
    run_night(db_engine, settings, as_of=DAY, groups=[[Step("leave", leaves_a_filter, "sets a filter")]])
    assert warnings.filters == before
