"""CLI commands ``vigie model train | promote | list`` (mounted by :mod:`jobs.cli`).

Training needs payment aggregates at every past snapshot date: :func:`prepare_snapshots`
recomputes them from the raw payment history before the training set is built.
"""

from __future__ import annotations

from datetime import date
from typing import TYPE_CHECKING

import typer
from rich.table import Table
from sqlalchemy.orm import Session

if TYPE_CHECKING:
    from scoring.training import TrainingReport

from config.settings import Settings
from jobs.cli_support import EXIT_MODEL, STATE, console, parse_date, register_error
from models.db import unit_of_work
from scoring.dataset import snapshot_dates
from scoring.errors import ScoringError

register_error(ScoringError, EXIT_MODEL)

model_app = typer.Typer(
    help="Train, register and promote the buyer default-probability model (MLflow registry).",
    no_args_is_help=True,
)


def prepare_snapshots(session: Session, settings: Settings, as_of: date) -> dict[date, int]:
    """Recompute ``payment_aggregate`` at every training snapshot of ``as_of`` from the raw
    payment history (idempotent: each date's rows are replaced). Returns rows per date."""
    store = settings.payments_store_dir
    from feeds.payments.load import refresh_aggregates  # polars: loaded when training

    return {snap: refresh_aggregates(session, store_dir=store, as_of=snap) for snap in snapshot_dates(as_of)}


def print_report(report: TrainingReport) -> None:
    console.print(
        f"registered {report.kind} as version {report.version} "
        f"({report.rows} rows, {report.defaults} defaults, {report.seconds:.1f} s)"
    )
    console.print(f"why: {report.why}")
    console.print(f"validation: {report.validation}")
    for note in report.notes:
        console.print(f"note: {note}")
    m = report.metrics
    console.print(f"AUC {m['auc']:.4f}  Gini {m['gini']:.4f}  KS {m['ks']:.4f}  Brier {m['brier']:.5f}")
    table = Table(title="Calibration per grade (validation sample)")
    for column in ("grade", "rating", "n", "defaults", "observed", "mean PD"):
        table.add_column(column, justify="right")
    for row in report.calibration:
        table.add_row(
            str(row["grade"]),
            str(row["rating"]),
            str(row["n"]),
            str(row["defaults"]),
            f"{row['observed_rate']:.2%}",
            f"{row['mean_pd']:.2%}",
        )
    console.print(table)
    if report.champion:
        console.print(f"no champion existed: version {report.version} is now the champion")
    else:
        console.print(
            f"champion unchanged; `vigie model promote {report.version}` to make this version champion"
        )


@model_app.command("train")
def train(
    as_of: str = typer.Option(
        ..., "--as-of", help="Business date YYYY-MM-DD: only what was known then is used."
    ),
) -> None:
    """Build the point-in-time training set (quarterly snapshots over the two years ending 12
    months before --as-of), compare gradient boosting and a logistic scorecard, keep the better,
    log everything to MLflow and register a new version. The first version becomes champion."""
    day = parse_date(as_of)
    settings = STATE.settings
    sessions = STATE.ready_sessions()
    with unit_of_work(sessions) as session:
        prepare_snapshots(session, settings, day)
    with unit_of_work(sessions) as session:
        from scoring.training import train_and_register  # MLflow and scikit-learn: loaded when used

        report = train_and_register(session, as_of=day, settings=settings)
    print_report(report)


@model_app.command("promote")
def promote(
    version: str = typer.Argument(..., help="Registered version number (see `vigie model list`)."),
    alias: str = typer.Option(
        "champion", "--alias", help="champion (drives decisions) or challenger (shadow)."
    ),
) -> None:
    """Point the champion (or challenger) alias at VERSION. Nightly scoring uses the champion;
    the challenger is scored in shadow and never drives a decision."""
    from scoring import registry

    registry.promote(STATE.settings, version, alias=alias)
    console.print(f"{STATE.settings.mlflow.model_name} version {version} is now {alias}")


@model_app.command("list")
def list_models() -> None:
    """Registered versions, newest first, with their aliases, kind, training date and AUC."""
    from scoring import registry

    frame = registry.list_versions(STATE.settings)
    if frame.empty:
        console.print("no registered version yet: run `vigie model train --as-of YYYY-MM-DD`")
        return
    table = Table(title=f"Registered model {STATE.settings.mlflow.model_name}")
    for column in frame.columns:
        table.add_column(column)
    for row in frame.itertuples(index=False):
        table.add_row(*(str(v) for v in row))
    console.print(table)


def register(app: typer.Typer) -> None:
    """Mount this module's commands on the main app."""
    app.add_typer(model_app, name="model")
