"""The command line as an operator meets it: help that teaches, one-line errors, exit codes."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from models.db import dispose_engines, make_engine

COMMANDS = [
    "demo",
    "db",
    "ingest",
    "model",
    "rules",
    "nightly",
    "runs",
    "schedule",
    "report",
    "notify",
    "serve",
    "users",
]


def vigie(
    *args: str, env: dict[str, str] | None = None, cwd: Path | None = None
) -> subprocess.CompletedProcess[str]:
    full_env = {
        k: v for k, v in os.environ.items() if not k.startswith("VIGIE_") or k == "VIGIE_TEST_POSTGRES_URL"
    }
    full_env.update(env or {})
    return subprocess.run(
        [sys.executable, "-m", "jobs.cli", *args],
        capture_output=True,
        text=True,
        env=full_env,
        cwd=cwd,
        check=False,
    )


def test_help_lists_every_command_and_the_exit_codes() -> None:
    result = vigie("--help")
    assert result.returncode == 0
    for command in COMMANDS:
        assert command in result.stdout
    assert "Exit codes" in result.stdout


@pytest.mark.parametrize("command", COMMANDS)
def test_every_command_has_help(command: str) -> None:
    result = vigie(command, "--help")
    assert result.returncode == 0, result.stderr
    assert len(result.stdout.split()) > 15


def test_an_invalid_setting_is_one_line_naming_the_variable(tmp_path: Path) -> None:
    result = vigie("runs", env={"VIGIE_MAIL__SMTP_PORT": "-3", "VIGIE_WORKDIR": str(tmp_path)})
    assert result.returncode == 3
    assert "VIGIE_MAIL__SMTP_PORT" in result.stderr
    assert "Traceback" not in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


def test_a_database_not_migrated_says_how_to_fix_it(tmp_path: Path) -> None:
    result = vigie("runs", env={"VIGIE_WORKDIR": str(tmp_path)})
    assert result.returncode == 4
    assert "vigie db upgrade" in result.stderr
    assert "Traceback" not in result.stderr


def test_debug_adds_the_traceback(tmp_path: Path) -> None:
    result = vigie("--debug", "runs", env={"VIGIE_WORKDIR": str(tmp_path)})
    assert result.returncode == 4
    assert "Traceback" in result.stderr


def test_an_unwritable_work_directory_is_named(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("")
    result = vigie("db", "upgrade", env={"VIGIE_WORKDIR": str(blocker / "var")})
    assert result.returncode == 4
    assert "VIGIE_WORKDIR" in result.stderr


def test_db_upgrade_then_runs_on_an_empty_ledger(db_url: str, tmp_path: Path) -> None:
    env = {"VIGIE_WORKDIR": str(tmp_path), "VIGIE_DATABASE__URL": db_url}
    assert vigie("db", "upgrade", env=env).returncode == 0
    assert vigie("db", "check", env=env).returncode == 0
    result = vigie("runs", env=env)
    assert result.returncode == 0, result.stderr


def test_a_bad_date_is_a_usage_error(tmp_path: Path) -> None:
    result = vigie("nightly", "--as-of", "23/11/2026", env={"VIGIE_WORKDIR": str(tmp_path)})
    assert result.returncode == 2
    assert "YYYY-MM-DD" in result.stderr


def test_scipy_loads_before_the_heavy_libraries_so_the_model_loader_scans_little() -> None:
    # skops finds each SciPy ufunc's module by scanning sys.modules in import order: the later
    # SciPy comes, the longer the scan (1.0-1.5 s of a night's model load when it came after
    # pandas, polars and MLflow). The command line imports it first.
    probe = (
        "import sys, jobs.cli; order = list(sys.modules); "
        "print(order.index('scipy.special'), order.index('pandas'), order.index('sqlalchemy'))"
    )
    found = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    scipy_at, pandas_at, sqlalchemy_at = (int(v) for v in found.stdout.split())
    assert scipy_at < pandas_at and scipy_at < sqlalchemy_at


def test_the_command_freezes_the_heap_as_its_process_ends(tmp_path: Path) -> None:
    # the interpreter's last garbage collections then skip the heap (1.2-1.5 s after a night)
    probe = (
        "import atexit, gc, sys; atexit.register(lambda: print('frozen', gc.get_freeze_count())); "
        "sys.argv = ['vigie', 'db', 'upgrade']; from jobs.cli import main; main()"
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith("VIGIE_")} | {
        "VIGIE_WORKDIR": str(tmp_path)
    }
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, env=env, check=False)
    assert done.returncode == 0, done.stderr
    assert int(done.stdout.split("frozen")[-1]) > 10_000


def test_the_connections_of_every_live_engine_are_closed_as_the_process_ends(tmp_path: Path) -> None:
    engines = [make_engine(f"sqlite:///{tmp_path / name}") for name in ("a.db", "b.db")]
    for engine in engines:
        with engine.begin() as connection:
            connection.exec_driver_sql("CREATE TABLE t (x INTEGER)")
    logs = [tmp_path / "a.db-wal", tmp_path / "b.db-wal"]
    assert all(log.exists() for log in logs)
    dispose_engines()
    assert not any(log.exists() for log in logs)  # closed: SQLite copied each log and removed it


def test_the_console_script_imports_the_command_line_with_the_collector_paused() -> None:
    # every collection that starts while jobs.cli is half imported (no main yet) is recorded
    probe = (
        "import gc, sys; during = []\n"
        "def seen(phase, info):\n"
        "    cli = sys.modules.get('jobs.cli')\n"
        "    if phase == 'start' and cli is not None and not hasattr(cli, 'main'): during.append(info)\n"
        "gc.callbacks.append(seen)\n"
        "sys.argv = ['vigie', '--help']\n"
        "from jobs.launcher import main\n"
        "try:\n    main()\nexcept SystemExit as exc:\n    print('exit', exc.code, 'collections', len(during), gc.isenabled())\n"
    )
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    assert done.stdout.split()[-5:] == ["exit", "0", "collections", "0", "True"], done.stdout[-300:]
    assert "Usage: vigie" in done.stdout
