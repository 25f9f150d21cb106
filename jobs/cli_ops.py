"""CLI commands of operations: ``demo``, ``nightly``, ``runs`` and ``schedule``."""

from __future__ import annotations

import json
import logging
from datetime import date, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import typer
from rich.table import Table
from sqlalchemy import select

from config.settings import load_settings
from jobs.cli_support import EXIT_RUN_FAILED, STATE, console, parse_date, register_error
from jobs.nightly import STEP_NAMES, RunFailed, run_night
from jobs.run_lock import RunLocked
from models.run import Run, RunStep

register_error(RunFailed, EXIT_RUN_FAILED)
register_error(RunLocked, EXIT_RUN_FAILED)


def _use_workdir(workdir: Path | None) -> None:
    if workdir is not None:
        STATE.use_settings(load_settings(workdir=workdir))


def demo(
    buyers: int = typer.Option(
        2000, "--buyers", min=50, help="Number of synthetic buyers (limits ~3x, invoices ~10x)."
    ),
    workdir: Path | None = typer.Option(
        None, "--workdir", help="Folder that keeps everything: database, MLflow store, feeds, outbox, report."
    ),
    as_of: str | None = typer.Option(None, "--as-of", help="Business date YYYY-MM-DD (default: today)."),
    seed: int = typer.Option(7, "--seed", help="Seed of the synthetic portfolio (same seed, same data)."),
) -> None:
    """Run a whole night on a synthetic portfolio, end to end, through the real code paths.

    Generates the feed files (Sirene, BODACC, payments, OECD, portfolio) for N buyers, ingests
    them, trains a default-probability model and registers it in MLflow, runs the nightly
    arbitration for the business date, writes the e-mails (.eml files) and the report, and
    prints a summary. Running it again on the same work directory reuses what is there."""
    from jobs.demo import print_summary, run_demo

    _use_workdir(workdir)
    business_date = parse_date(as_of) if as_of else date.today()
    summary = run_demo(STATE.settings, buyers=buyers, seed=seed, as_of=business_date, say=console.print)
    print_summary(summary, console)


def nightly(
    as_of: str = typer.Option(..., "--as-of", help="Business date YYYY-MM-DD to process."),
    stop_after: str | None = typer.Option(
        None,
        "--stop-after",
        help=f"Stop after this step, leaving the run resumable ({', '.join(STEP_NAMES)}).",
    ),
) -> None:
    """Run the night of a business date: ingest, aggregate, score, monitor, arbitrate,
    eligibility, outbox, send, report.

    Idempotent: a finished night is not redone; an interrupted or failed one resumes at the
    first unfinished step, with no decision lost or doubled and no e-mail sent twice. Feed
    files are read from <workdir>/feeds/<business date>/. Exit 0 when the run succeeded,
    5 when a step failed (see `vigie runs`)."""
    if stop_after is not None and stop_after not in STEP_NAMES:
        raise typer.BadParameter(f"expected one of {', '.join(STEP_NAMES)}, found {stop_after!r}")
    business_date = parse_date(as_of)
    STATE.ready_sessions()
    result = run_night(
        STATE.engine,
        STATE.settings,
        as_of=business_date,
        stop_after=stop_after,
        progress=lambda name, text: console.print(f"[bold]{name}[/bold]: {text}"),
    )
    if result.already_done:
        console.print(f"the night of {business_date} already succeeded (run {result.run_id}); nothing to do")
        return
    verb = "resumed and " if result.resumed else ""
    console.print(f"night of {business_date}: {verb}{result.status} (run {result.run_id})")


def runs(
    limit: int = typer.Option(10, "--limit", min=1, help="How many of the latest runs to show."),
    as_json: bool = typer.Option(False, "--json", help="One JSON object per run, with its steps."),
) -> None:
    """List the latest runs and their steps from the run ledger (status, seconds, counts, error)."""
    sessions = STATE.ready_sessions()
    with sessions() as session:
        latest = session.execute(select(Run).order_by(Run.business_date.desc()).limit(limit)).scalars().all()
        steps = {
            run.run_id: session.execute(
                select(RunStep).where(RunStep.run_id == run.run_id).order_by(RunStep.ordinal)
            )
            .scalars()
            .all()
            for run in latest
        }
    if as_json:
        for run in latest:
            record = {
                "business_date": run.business_date.isoformat(),
                "run_id": run.run_id,
                "status": run.status,
                "attempts": run.attempts,
                "error": run.error,
                "steps": [
                    {
                        "name": s.name,
                        "status": s.status,
                        "seconds": s.seconds,
                        "counts": json.loads(s.counts),
                        "error": s.error,
                    }
                    for s in steps[run.run_id]
                ],
            }
            console.print_json(json.dumps(record))
        return
    table = Table(title="Runs")
    for column in ("business date", "run", "status", "attempts", "steps", "error"):
        table.add_column(column)
    for run in latest:
        summary = ", ".join(f"{s.name}:{s.status}({s.seconds or 0:.1f}s)" for s in steps[run.run_id])
        table.add_row(
            run.business_date.isoformat(),
            str(run.run_id),
            run.status,
            str(run.attempts),
            summary,
            run.error or "",
        )
    console.print(table)


def schedule() -> None:
    """Run the scheduler in this process: the nightly run every day at the configured time.

    Settings: VIGIE_SCHEDULER__TIMEZONE (default Europe/Paris), VIGIE_SCHEDULER__NIGHTLY_TIME
    (default 03:30), VIGIE_SCHEDULER__MISFIRE_GRACE_HOURS (default 6). A night missed while
    the process was down is caught up at start if still within the grace time. Two scheduler
    processes on one database still give one run per night. Stop with Ctrl-C."""
    from jobs.scheduler import build_scheduler

    STATE.ready_sessions()
    logging.getLogger("vigie").setLevel(logging.INFO)
    logging.getLogger("apscheduler").setLevel(logging.INFO)
    scheduler = build_scheduler(STATE.engine, STATE.settings)
    zone = ZoneInfo(STATE.settings.scheduler.timezone)
    job = scheduler.get_job("vigie-nightly")
    trigger = job.trigger if job else None
    upcoming = trigger.get_next_fire_time(None, datetime.now(zone)) if trigger else None
    console.print(f"scheduler started; next nightly run at {upcoming}")
    try:
        scheduler.start()
    except (KeyboardInterrupt, SystemExit):
        console.print("scheduler stopped")


def register(app: typer.Typer) -> None:
    """Mount this module's commands on the main app."""
    app.command("demo")(demo)
    app.command("nightly")(nightly)
    app.command("runs")(runs)
    app.command("schedule")(schedule)
