"""What every CLI command shares: the settings and database handles, exit codes, and the
one place where errors become one clear line on stderr.

Exit codes (documented in ``vigie --help``):
  0 success; 1 done, but with rows quarantined or items needing attention;
  2 bad input (usage error, a feed file rejected, an invalid rule file);
  3 configuration error (a setting missing or invalid); 4 database unreachable or not migrated;
  5 a run or step failed; 6 the model registry cannot serve a model.
"""

from __future__ import annotations

import gc
import logging
import sys
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from functools import cached_property
from typing import NoReturn

import typer
from rich.console import Console
from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from config.settings import Settings, SettingsError, load_settings
from models.db import DatabaseError, check_ready, dispose_engines, make_engine, session_factory

EXIT_OK = 0
EXIT_ATTENTION = 1
EXIT_BAD_INPUT = 2
EXIT_CONFIG = 3
EXIT_DATABASE = 4
EXIT_RUN_FAILED = 5
EXIT_MODEL = 6

EXIT_CODES_HELP = (
    "Exit codes: 0 success; 1 done with items needing attention (rows quarantined...); "
    "2 bad input (usage, rejected file, invalid rule file); 3 invalid setting; "
    "4 database unreachable or not migrated; 5 run failed; 6 model registry cannot serve a model."
)

console = Console()
err_console = Console(stderr=True, soft_wrap=True)


class CliError(Exception):
    """An error with its exit code, printed as one line."""

    def __init__(self, message: str, code: int = EXIT_BAD_INPUT) -> None:
        super().__init__(message)
        self.code = code


@dataclass
class AppState:
    """Per-invocation state: settings are read once; the engine is made on first use."""

    debug: bool = False
    _settings: Settings | None = None

    @property
    def settings(self) -> Settings:
        if self._settings is None:
            self._settings = load_settings()
        return self._settings

    def use_settings(self, settings: Settings) -> None:
        self._settings = settings
        self.__dict__.pop("engine", None)
        self.__dict__.pop("sessions", None)

    @cached_property
    def engine(self) -> Engine:
        return make_engine(self.settings.database_url, echo=self.settings.database.echo)

    @cached_property
    def sessions(self) -> sessionmaker[Session]:
        return session_factory(self.engine)

    def ready_sessions(self) -> sessionmaker[Session]:
        """Sessions on a database known to be reachable and migrated (else a clear error)."""
        check_ready(self.engine)
        return self.sessions


STATE = AppState()

_ERROR_CODES: list[tuple[type[BaseException], int]] = [
    (SettingsError, EXIT_CONFIG),
    (DatabaseError, EXIT_DATABASE),
    (CliError, EXIT_BAD_INPUT),
]


def register_error(error_type: type[BaseException], code: int) -> None:
    """Let a command module declare how its domain errors map to an exit code."""
    _ERROR_CODES.insert(0, (error_type, code))


def exit_code_for(exc: BaseException) -> int | None:
    if isinstance(exc, CliError):
        return exc.code
    for error_type, code in _ERROR_CODES:
        if isinstance(exc, error_type):
            return code
    return None


def fail(message: str, code: int = EXIT_BAD_INPUT) -> NoReturn:
    raise CliError(message, code)


def end_of_process() -> None:
    """What the command line does as its process ends, whatever the exit code: close the
    database connections of every engine (SQLite copies its write-ahead log into the file as
    the last one closes), then freeze the heap (``gc.freeze``), so that the interpreter's own garbage
    collections on the way out skip it: after a night they walked some 450,000 objects several
    times, 1.2-1.5 s of the command's time on this kind of machine. The operating system frees
    the memory either way; nothing else is left undone (atexit handlers still run)."""
    dispose_engines()
    gc.freeze()


def run_app(app: Callable[..., object], argv: list[str] | None = None) -> NoReturn:
    """Run the typer app; known errors print one line (a traceback only with ``--debug``)."""
    try:
        result = app(args=argv, prog_name="vigie", standalone_mode=False)  # type: ignore[call-arg]
    except typer.Exit as exc:
        sys.exit(exc.exit_code)
    except SystemExit:
        raise
    except BaseException as exc:
        if isinstance(exc, typer.Abort | KeyboardInterrupt):
            err_console.print("aborted")
            sys.exit(130)
        show = getattr(exc, "show", None)
        if isinstance(exc, typer.TyperException) and callable(show):
            show()  # a usage error: click's own message, exit code 2
            sys.exit(int(getattr(exc, "exit_code", EXIT_BAD_INPUT)))
        code = exit_code_for(exc)
        if STATE.debug or code is None:
            logging.getLogger("vigie").exception("unexpected error")
            if code is None:
                err_console.print(f"error: {exc.__class__.__name__}: {exc}", markup=False)
                sys.exit(EXIT_RUN_FAILED)
        err_console.print(f"error: {exc}", markup=False)
        sys.exit(code if code is not None else EXIT_RUN_FAILED)
    sys.exit(result if isinstance(result, int) else EXIT_OK)


def parse_date(value: str) -> date:
    """A ``YYYY-MM-DD`` command-line value; anything else is a usage error that says so."""
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise typer.BadParameter(f"expected a date YYYY-MM-DD, found {value!r}") from None
