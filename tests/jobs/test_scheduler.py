"""The scheduler: one fire per local day across daylight-saving changes, catch-up of a missed
night within the grace time, real scheduling, and one run per night with two schedulers."""

from __future__ import annotations

import multiprocessing
import time
from collections import Counter
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.triggers.cron import CronTrigger
from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session

from config.settings import Settings, load_settings
from jobs.nightly import NightContext, Step
from jobs.scheduler import (
    CATCH_UP_JOB_ID,
    NIGHTLY_JOB_ID,
    build_scheduler,
    business_date_of,
    missed_night,
    nightly_trigger,
)
from models.audit_log import AuditLog
from models.run import Run

PARIS = ZoneInfo("Europe/Paris")


def test_every_local_day_has_exactly_one_fire_across_daylight_saving_changes() -> None:
    trigger = nightly_trigger(load_settings())
    fires: Counter[date] = Counter()
    previous = None
    now = datetime(2026, 1, 1, tzinfo=PARIS)
    end = datetime(2028, 1, 1, tzinfo=PARIS)
    while (fire := trigger.get_next_fire_time(previous, now)) is not None and fire < end:
        fires[fire.astimezone(PARIS).date()] += 1
        previous, now = fire, fire + timedelta(seconds=1)
    assert len(fires) == 730
    assert set(fires.values()) == {1}
    assert date(2026, 3, 29) in fires  # spring forward
    assert date(2026, 10, 25) in fires  # fall back


def test_the_business_date_is_the_local_day_before_the_fire() -> None:
    fire = datetime(2026, 11, 24, 3, 30, tzinfo=PARIS)
    assert business_date_of(fire, PARIS) == date(2026, 11, 23)
    assert business_date_of(datetime(2026, 11, 24, 2, 45, tzinfo=ZoneInfo("UTC")), PARIS) == date(
        2026, 11, 23
    )


def test_a_missed_night_is_caught_up_within_the_grace_time_only(
    db_engine: Engine, settings: Settings
) -> None:
    fired = datetime(2026, 11, 24, 3, 30, tzinfo=PARIS)
    assert missed_night(db_engine, settings, now=fired + timedelta(hours=2)) == date(2026, 11, 23)
    assert missed_night(db_engine, settings, now=fired + timedelta(hours=7)) is None
    with Session(db_engine) as session:
        session.add(Run(business_date=date(2026, 11, 23), status="succeeded"))
        session.commit()
    assert missed_night(db_engine, settings, now=fired + timedelta(hours=2)) is None


def test_the_scheduler_registers_one_nightly_job_with_explicit_safety_options(
    db_engine: Engine, settings: Settings
) -> None:
    now = datetime(2026, 11, 24, 5, 0, tzinfo=PARIS)
    scheduler = build_scheduler(db_engine, settings, scheduler_factory=BackgroundScheduler, now=now)
    scheduler.start(paused=True)
    try:
        job = scheduler.get_job(NIGHTLY_JOB_ID)
        assert job is not None
        assert job.coalesce is True
        assert job.max_instances == 1
        assert job.misfire_grace_time == 6 * 3600
        assert str(job.trigger.timezone) == "Europe/Paris"
        assert scheduler.get_job(CATCH_UP_JOB_ID) is not None  # the night of the 23rd was missed
    finally:
        scheduler.shutdown(wait=False)


def counting_groups() -> list[list[Step]]:
    def write(ctx: NightContext) -> dict[str, Any]:
        ctx.session.add(AuditLog(actor="scheduler", action="night", entity="run", entity_id=str(ctx.run_id)))
        time.sleep(0.3)
        return {"wrote": 1}

    return [[Step("only", write, "writes one row")]]


def run_scheduler_for(url: str, workdir: str, seconds: float) -> None:
    from models.db import make_engine

    settings = load_settings(workdir=Path(workdir), database={"url": url})
    scheduler = build_scheduler(
        make_engine(url),
        settings,
        scheduler_factory=BackgroundScheduler,
        trigger=CronTrigger(second="*", timezone=PARIS),
        groups=counting_groups(),
    )
    scheduler.start()
    time.sleep(seconds)
    scheduler.shutdown(wait=True)


@pytest.mark.slow
def test_two_scheduler_processes_really_fire_and_still_give_one_run(
    db_engine: Engine, settings: Settings
) -> None:
    context = multiprocessing.get_context("spawn")
    workers = [
        context.Process(
            target=run_scheduler_for,
            args=(str(db_engine.url.render_as_string(False)), str(settings.workdir), 3.5),
        )
        for _ in range(2)
    ]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(60)
        assert worker.exitcode == 0
    with Session(db_engine) as session:
        runs = session.execute(select(Run.business_date, Run.status)).all()
        writes = session.execute(select(func.count()).select_from(AuditLog)).scalar_one()
    assert len(runs) == 1
    assert runs[0].status == "succeeded"
    assert writes == 1


def test_the_catch_up_and_the_nightly_fire_never_run_two_nights_at_once(
    db_engine: Engine, settings: Settings
) -> None:
    """A missed night caught up at start and the nightly fire a second later are two jobs of
    APScheduler's thread pool: the process runs their nights one after the other."""
    spans: list[tuple[date, float, float]] = []

    def slow(ctx: NightContext) -> dict[str, Any]:
        started = time.monotonic()
        time.sleep(1.5)
        spans.append((ctx.as_of, started, time.monotonic()))
        return {}

    now = datetime.now(PARIS)
    fire = now + timedelta(seconds=1)
    nightly = CronTrigger(hour=fire.hour, minute=fire.minute, second=fire.second, timezone=PARIS)
    scheduler = build_scheduler(
        db_engine,
        settings,
        scheduler_factory=BackgroundScheduler,
        trigger=nightly,
        groups=[[Step("slow", slow, "takes a while")]],
        now=datetime(2026, 11, 24, 5, 0, tzinfo=PARIS),  # the night of the 23rd missed, in grace
    )
    assert {job.id for job in scheduler.get_jobs()} == {NIGHTLY_JOB_ID, CATCH_UP_JOB_ID}
    scheduler.start()
    try:
        deadline = time.monotonic() + 15
        while len(spans) < 2 and time.monotonic() < deadline:
            time.sleep(0.1)
    finally:
        scheduler.shutdown(wait=True)
    assert len(spans) == 2 and spans[0][0] != spans[1][0]  # two business dates
    first, second = sorted(spans, key=lambda span: span[1])
    assert second[1] >= first[2]  # the second began once the first had ended
