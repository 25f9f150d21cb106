"""`vigie ingest` as an operator runs it: a migrated database, JSON or a table, exit codes.

The command runs in-process through the same entry point as the console script
(:func:`jobs.cli_support.run_app`), on a SQLite database migrated with Alembic."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import func, select

from config.settings import load_settings
from feeds.payments.store import store_path
from jobs.cli import app
from jobs.cli_support import STATE, run_app
from models.db import upgrade
from models.feed_file import FeedFile
from tests.feeds.payments_support import invoice, write_csv
from tests.feeds.test_portfolio import HOLDERS


@pytest.fixture
def use_workdir() -> Iterator[None]:
    """Restore the CLI's global state after the test."""
    yield
    if "engine" in STATE.__dict__:
        STATE.engine.dispose()
    STATE.__dict__.pop("engine", None)
    STATE.__dict__.pop("sessions", None)
    STATE._settings = None


def vigie(workdir: Path, capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    STATE.use_settings(load_settings(workdir=workdir))
    with pytest.raises(SystemExit) as exited:
        run_app(app, ["ingest", *args])
    out, err = capsys.readouterr()
    return int(exited.value.code or 0), out, err


@pytest.fixture
def workdir(tmp_path: Path, use_workdir: None) -> Path:
    """A work directory whose SQLite database is migrated to head."""
    folder = tmp_path / "work"
    STATE.use_settings(load_settings(workdir=folder))
    upgrade(STATE.engine)
    return folder


def _ledger_rows() -> int:
    with STATE.sessions() as session:
        return int(session.execute(select(func.count()).select_from(FeedFile)).scalar_one())


def test_json_reconciliation_and_exit_codes(
    workdir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    mixed = write_csv(tmp_path / "payments_1.csv", [invoice("I1"), invoice("I2", amount="1,5")])
    clean = write_csv(tmp_path / "payments_2.csv", [invoice("I3"), invoice("I3")])
    code, out, err = vigie(workdir, capsys, "payments", str(mixed), str(clean), "--json")
    assert code == 1, err
    lines = [json.loads(line) for line in out.splitlines()]
    assert [{k: d[k] for k in ("file", "read", "accepted", "quarantined", "duplicates")} for d in lines] == [
        {"file": str(mixed), "read": 2, "accepted": 1, "quarantined": 1, "duplicates": 0},
        {"file": str(clean), "read": 2, "accepted": 1, "quarantined": 0, "duplicates": 1},
    ]
    assert store_path(load_settings(workdir=workdir).history_dir / "payments").is_file()
    code, out, err = vigie(workdir, capsys, "payments", str(mixed), "--json")
    assert code == 0, err
    assert json.loads(out)["already_ingested"] is True
    assert _ledger_rows() == 2


def test_a_rejected_file_exits_2_and_the_good_ones_stay_committed(
    workdir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    broken = write_csv(tmp_path / "payments_bad.csv", [["P1", "x"]], columns=["policyholder_id", "buyer_id"])
    good = write_csv(tmp_path / "payments_ok.csv", [invoice("I1")])
    code, out, err = vigie(workdir, capsys, "payments", str(good), str(broken))
    assert code == 2
    assert "Reconciliation" in out and "rejected" in out
    assert f"error: {broken}: expected column 'invoice_id'" in err
    assert _ledger_rows() == 1


def test_folder_source_ingests_a_drop_folder(
    workdir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    drop = tmp_path / "drop"
    write_csv(
        drop / "portfolio_policyholders.csv", [["PH1", "Acme", "", "", "a@acme.fr", "fr"]], columns=HOLDERS
    )
    write_csv(drop / "payments.csv", [invoice("I1")])
    code, out, err = vigie(workdir, capsys, "folder", str(drop), "--json")
    assert code == 0, err
    assert [(json.loads(line)["source"], json.loads(line)["accepted"]) for line in out.splitlines()] == [
        ("portfolio", 1),
        ("payments", 1),
    ]


def test_unmigrated_database_and_unknown_source(
    tmp_path: Path, use_workdir: None, capsys: pytest.CaptureFixture[str]
) -> None:
    path = write_csv(tmp_path / "payments.csv", [invoice("I1")])
    code, _out, err = vigie(tmp_path / "fresh", capsys, "payments", str(path))
    assert code == 4
    assert "vigie db upgrade" in err
    code, _out, err = vigie(tmp_path / "fresh", capsys, "claims", str(path))
    assert code == 2
    assert "claims" in err
