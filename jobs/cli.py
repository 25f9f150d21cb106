"""The ``vigie`` command line. Each group of commands lives in its own ``cli_*`` module and
is mounted here; this module holds the global options and the database commands."""

from __future__ import annotations

import logging

# first of the third-party imports, on purpose: skops (which loads the registered model) looks
# up each SciPy ufunc by scanning ``sys.modules`` in import order; with SciPy near the front the
# scan is short (0.07-0.1 s instead of 1.0-1.5 s once pandas, polars, MLflow... are loaded).
import scipy.special  # noqa: F401
import typer

from jobs import cli_admin, cli_ingest, cli_model, cli_ops, cli_report, cli_rules
from jobs.cli_support import EXIT_CODES_HELP, STATE, console, end_of_process, run_app
from models.db import check_ready, upgrade

app = typer.Typer(
    name="vigie",
    help=(
        "Vigie: nightly risk monitoring and credit-limit arbitration for a trade-credit insurer.\n\n"
        "Start with `vigie demo` (a whole night on synthetic data in ./var). Settings come from "
        "VIGIE_* variables or the TOML file named by VIGIE_CONFIG (see README).\n\n" + EXIT_CODES_HELP
    ),
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
    rich_markup_mode=None,
)
db_app = typer.Typer(help="Create or check the database schema (Alembic migrations).", no_args_is_help=True)
app.add_typer(db_app, name="db")


@app.callback()
def _global(
    debug: bool = typer.Option(False, "--debug", help="Print full tracebacks and debug logs."),
) -> None:
    STATE.debug = debug
    logging.basicConfig(
        level=logging.DEBUG if debug else logging.WARNING,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )


@db_app.command("upgrade")
def db_upgrade(
    revision: str = typer.Argument("head", help="Target revision (default: the latest)."),
) -> None:
    """Apply the migrations to the database of VIGIE_DATABASE__URL (default: SQLite in the work dir).

    Safe to run again: an up-to-date database is left as it is."""
    upgrade(STATE.engine, revision)
    console.print(
        f"database {STATE.engine.url.render_as_string(hide_password=True)} is at revision {revision}"
    )


@db_app.command("check")
def db_check() -> None:
    """Exit 0 when the database is reachable and fully migrated, 4 with the reason otherwise."""
    check_ready(STATE.engine)
    console.print("database is reachable and migrated")


for module in (cli_ops, cli_ingest, cli_model, cli_rules, cli_report, cli_admin):
    module.register(app)


def main() -> None:
    """Console-script entry point."""
    try:
        run_app(app)
    finally:
        end_of_process()


if __name__ == "__main__":
    main()
