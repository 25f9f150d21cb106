"""CLI commands: report and notify (mounted by :mod:`jobs.cli`)."""

from __future__ import annotations

import json
from datetime import date
from enum import StrEnum

import typer
from sqlalchemy import update

from jobs.cli_support import EXIT_ATTENTION, EXIT_BAD_INPUT, STATE, console, fail, register_error
from jobs.eligibility import SchemeParamsError
from jobs.notify import send_pending
from models.db import unit_of_work
from models.notification import Notification

register_error(SchemeParamsError, EXIT_BAD_INPUT)


class ReportFormat(StrEnum):
    JSON = "json"
    HTML = "html"


def _parse_day(value: str) -> date:
    try:
        return date.fromisoformat(value)
    except ValueError:
        fail(f"--as-of: expected a date as YYYY-MM-DD, found {value!r}")


def report(
    as_of: str = typer.Option(..., "--as-of", help="Business date of the report, YYYY-MM-DD."),
    output: ReportFormat = typer.Option(
        ReportFormat.JSON, "--format", help="json: print one JSON object; html: print the page's path."
    ),
) -> None:
    """Build the portfolio report of a business date (indicators, plots, HTML) under the work dir.

    `--format json` prints ONE JSON object on stdout: country_risk_index {stock, flow} (seed 002,
    OECD category 0 weighted 1, not-classified countries weighted 1), good_risk_share and
    less_good_risk_share {amount, count} as fractions, decisions (count per EDIFACT 4507 code),
    exposure_removed, notifications {sent, dead_letter, ...}, model_monitoring, missing_feeds.
    The HTML page and PNG plots are written to <workdir>/reports/<date>/ either way."""
    day = _parse_day(as_of)
    with unit_of_work(STATE.ready_sessions()) as session:
        from jobs.report.build import build_report  # matplotlib: loaded when a report is built

        built = build_report(session, as_of=day, settings=STATE.settings, run_id=None)
    if output is ReportFormat.JSON:
        typer.echo(json.dumps(built.data, sort_keys=True))
    else:
        typer.echo(str(built.html_path))


def notify(
    retry: bool = typer.Option(
        False, "--retry", help="Also retry now the messages waiting for their backoff after a 4xx answer."
    ),
) -> None:
    """Send the queued notifications (.eml files or SMTP, per VIGIE_MAIL__TRANSPORT).

    Each message is sent at most once per outbox key. A 4xx answer is retried with backoff, a
    5xx answer moves the message to dead letter; an unreachable server leaves everything queued.
    Exit code 1 when messages remain queued, in doubt or in dead letter."""
    sessions = STATE.ready_sessions()
    if retry:
        with unit_of_work(sessions) as session:
            session.execute(
                update(Notification).where(Notification.status == "retry").values(next_attempt_at=None)
            )
    summary = send_pending(sessions, settings=STATE.settings)
    console.print(
        f"sent {summary.sent}, retried {summary.retried}, dead letter {summary.dead_letter}, "
        f"still queued {summary.pending}, in doubt {summary.in_doubt}"
    )
    if summary.unavailable:
        console.print(f"transport unavailable: {summary.unavailable}", markup=False)
    if summary.pending or summary.dead_letter or summary.in_doubt:
        raise typer.Exit(EXIT_ATTENTION)


def register(app: typer.Typer) -> None:
    """Mount this module's commands on the main app."""
    app.command("report")(report)
    app.command("notify")(notify)
