"""``vigie schedule``: APScheduler 3.11 firing the nightly run at a wall-clock time.

Choices, each against a known way to lose or double a night:
- cron in the configured zone (Europe/Paris); the settings refuse a time that a
  daylight-saving change skips or repeats, so every local day has exactly one fire;
- explicit job id with ``replace_existing``: restarting the process never stacks jobs;
- ``coalesce`` and ``max_instances=1``: a backlog of missed fires becomes one run, never two
  at once;
- ``misfire_grace_time`` in hours (APScheduler's default of 1 s would silently skip a night
  that starts a little late, e.g. after the machine was suspended);
- at start, a night missed while the process was down is caught up if it is still within
  the grace time (the run ledger says whether it already ran);
- the run itself takes a per-date lock and the ledger is unique per business date, so two
  scheduler processes still give one run;
- one night at a time in a process: the catch-up and the nightly fire are two jobs, which
  APScheduler's thread pool would run together if the catch-up were still running at the
  nightly time; a night's process-wide state (warning filters, the collector's thresholds,
  the reads sent ahead to the reader process) is then its own.
The business date of a fire is the local calendar day before it: the 03:30 run of the 24th
processes the 23rd.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Sequence
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from apscheduler.events import EVENT_JOB_ERROR, EVENT_JOB_EXECUTED, EVENT_JOB_MISSED, JobExecutionEvent
from apscheduler.schedulers.base import BaseScheduler
from apscheduler.schedulers.blocking import BlockingScheduler
from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.date import DateTrigger
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from config.settings import Settings
from jobs.nightly import RunFailed, Step, run_night
from jobs.run_lock import RunLocked
from models.run import Run

log = logging.getLogger("vigie.scheduler")

NIGHTLY_JOB_ID = "vigie-nightly"
CATCH_UP_JOB_ID = "vigie-catch-up"

_ONE_NIGHT_AT_A_TIME = threading.Lock()
"""Held by the night running in this process (see the module's notes)."""


def business_date_of(fire_time: datetime, zone: ZoneInfo) -> date:
    """The business date a fire processes: the local day before the fire."""
    return fire_time.astimezone(zone).date() - timedelta(days=1)


def nightly_trigger(settings: Settings) -> CronTrigger:
    zone = ZoneInfo(settings.scheduler.timezone)
    at = settings.scheduler.nightly_time
    return CronTrigger(hour=at.hour, minute=at.minute, second=at.second, timezone=zone)


def run_business_date(
    engine: Engine, settings: Settings, business_date: date, groups: Sequence[Sequence[Step]] | None = None
) -> str:
    """Run one night, after any other of this process; another process holding the date is
    normal with two schedulers."""
    try:
        with _ONE_NIGHT_AT_A_TIME:
            result = run_night(engine, settings, as_of=business_date, groups=groups)
    except RunLocked as exc:
        log.info("%s", exc)
        return "locked"
    except RunFailed:
        log.exception("nightly run of %s failed; the next start resumes it", business_date)
        raise
    status = "already done" if result.already_done else result.status
    log.info("nightly run of %s: %s", business_date, status)
    return status


def missed_night(engine: Engine, settings: Settings, *, now: datetime) -> date | None:
    """The business date of the last scheduled fire if it was missed and is still in grace."""
    zone = ZoneInfo(settings.scheduler.timezone)
    trigger = nightly_trigger(settings)
    grace = timedelta(hours=settings.scheduler.misfire_grace_hours)
    last: datetime | None = None
    probe = trigger.get_next_fire_time(None, now - timedelta(days=2))
    while probe is not None and probe <= now:
        last = probe
        probe = trigger.get_next_fire_time(probe, probe + timedelta(seconds=1))
    if last is None or now - last > grace:
        return None
    business_date = business_date_of(last, zone)
    with Session(engine) as session:
        status = session.execute(
            select(Run.status).where(Run.business_date == business_date)
        ).scalar_one_or_none()
    return None if status == "succeeded" else business_date


def _listener(event: JobExecutionEvent) -> None:
    if event.code == EVENT_JOB_ERROR:
        log.error("job %s failed: %s", event.job_id, event.exception)
    elif event.code == EVENT_JOB_MISSED:
        log.error("job %s missed its time %s (beyond the grace time)", event.job_id, event.scheduled_run_time)
    else:
        log.info("job %s ran for %s", event.job_id, event.scheduled_run_time)


def build_scheduler(
    engine: Engine,
    settings: Settings,
    *,
    scheduler_factory: Callable[..., BaseScheduler] = BlockingScheduler,
    now: datetime | None = None,
    trigger: Any = None,
    groups: Sequence[Sequence[Step]] | None = None,
) -> BaseScheduler:
    """A scheduler with the nightly job (and a catch-up job if a night was missed)."""
    zone = ZoneInfo(settings.scheduler.timezone)
    grace = int(settings.scheduler.misfire_grace_hours * 3600)
    scheduler = scheduler_factory(timezone=zone)

    def nightly() -> str:
        return run_business_date(engine, settings, business_date_of(datetime.now(zone), zone), groups)

    scheduler.add_job(
        nightly,
        trigger or nightly_trigger(settings),
        id=NIGHTLY_JOB_ID,
        name="Vigie nightly run",
        replace_existing=True,
        coalesce=True,
        max_instances=1,
        misfire_grace_time=grace,
    )
    missed = missed_night(engine, settings, now=now or datetime.now(zone))
    if missed is not None:
        log.warning("the night of %s was missed; catching up now", missed)
        scheduler.add_job(
            run_business_date,
            DateTrigger(run_date=datetime.now(zone), timezone=zone),
            args=[engine, settings, missed, groups],
            id=CATCH_UP_JOB_ID,
            name=f"Vigie catch-up of {missed}",
            replace_existing=True,
            coalesce=True,
            max_instances=1,
            misfire_grace_time=grace,
        )
    scheduler.add_listener(_listener, EVENT_JOB_ERROR | EVENT_JOB_MISSED | EVENT_JOB_EXECUTED)
    return scheduler
