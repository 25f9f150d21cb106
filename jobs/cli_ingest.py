"""CLI command ``vigie ingest SOURCE PATH...`` (mounted by :mod:`jobs.cli`).

Each file is its own unit of work: it is committed as soon as it is in, so a later rejected
file never undoes an earlier good one, and re-running the command skips what is already in
(the ingest ledger). Exit 0 when every row was accepted, 1 when some rows were quarantined,
2 when a file was rejected as a whole.
"""

from __future__ import annotations

from pathlib import Path

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from feeds.common import FeedFileError, FileReport
from feeds.folder import SOURCES, discover, ingest_path
from jobs.cli_support import (
    EXIT_ATTENTION,
    EXIT_BAD_INPUT,
    EXIT_OK,
    STATE,
    console,
    err_console,
    register_error,
)

register_error(FeedFileError, EXIT_BAD_INPUT)

FOLDER = "folder"


def exit_code(reports: list[FileReport]) -> int:
    """2 if a file was rejected, else 1 if rows were quarantined, else 0."""
    if any(r.error for r in reports):
        return EXIT_BAD_INPUT
    if any(r.quarantined for r in reports):
        return EXIT_ATTENTION
    return EXIT_OK


def _targets(source: str, paths: list[Path]) -> list[tuple[str, Path]]:
    if source != FOLDER:
        return [(source, path) for path in paths]
    targets: list[tuple[str, Path]] = []
    for folder in paths:
        targets.extend(discover(folder))
    return targets


def reconciliation_table(reports: list[FileReport]) -> Table:
    table = Table(title="Reconciliation: read = accepted + quarantined + duplicates")
    for column in ("file", "source", "read", "accepted", "quarantined", "duplicates", "status"):
        table.add_column(
            column, justify="right" if column in {"read", "accepted", "quarantined", "duplicates"} else "left"
        )
    for report in reports:
        if report.error:
            status = "rejected (see below)"
        elif report.already_ingested:
            status = "already ingested (unchanged)"
        else:
            status = "ok" if not report.quarantined else "rows quarantined"
        table.add_row(
            Path(report.file).name,
            report.source,
            str(report.read),
            str(report.accepted),
            str(report.quarantined),
            str(report.duplicates),
            status,
        )
    return table


def ingest(
    source: str = typer.Argument(..., help=f"One of {', '.join(SOURCES)}, or {FOLDER} for a drop folder."),
    paths: list[Path] = typer.Argument(..., help="Feed files (or drop folders with `folder`)."),
    as_json: bool = typer.Option(False, "--json", help="Print one JSON object per file instead of a table."),
) -> None:
    """Ingest feed files: validate, quarantine bad rows, load the good ones, print the
    reconciliation (read = accepted + quarantined + duplicates).

    The same file twice changes nothing. Exit 0 when all rows were accepted, 1 when some were
    quarantined (see the quarantine table), 2 when a file was rejected as a whole."""
    if source not in (*SOURCES, FOLDER):
        raise typer.BadParameter(f"expected one of {', '.join((*SOURCES, FOLDER))}, found {source!r}")
    sessions = STATE.ready_sessions()
    store_dir = STATE.settings.payments_store_dir
    targets = _targets(source, paths)
    reports: list[FileReport] = []
    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
    with Progress(*columns, console=err_console, transient=True) as progress:
        task = progress.add_task("ingesting", total=len(targets))
        for file_source, path in targets:
            progress.update(task, description=f"{file_source}: {path.name}")
            with sessions() as session:
                report = ingest_path(session, file_source, path, store_dir=store_dir)
                if report.error:
                    session.rollback()
                else:
                    session.commit()
            reports.append(report)
            progress.advance(task)
    if as_json:
        for report in reports:
            typer.echo(report.as_json())
    else:
        console.print(reconciliation_table(reports))
    for report in reports:
        if report.error:
            err_console.print(f"error: {report.error}", markup=False, soft_wrap=True)
    raise typer.Exit(exit_code(reports))


def register(app: typer.Typer) -> None:
    """Mount this module's commands on the main app."""
    app.command("ingest")(ingest)
