"""During a night SQLite's log is copied back into the database by a thread of its own, not by
the commit (models.checkpoints)."""

from __future__ import annotations

import os
from pathlib import Path

from sqlalchemy import Engine, text

from models.checkpoints import AUTOMATIC_PAGES, background_checkpoints
from models.db import make_engine

ROW = "x" * 4000


def _write_pages(engine: Engine, rows: int) -> None:
    """One transaction of ``rows`` rows of 4 KB: past the 1,000 pages of an automatic checkpoint."""
    with engine.begin() as connection:
        connection.execute(text("INSERT INTO filler (body) VALUES (:body)"), [{"body": ROW}] * rows)


def _autocheckpoint(engine: Engine) -> int:
    with engine.connect() as connection:
        return int(connection.exec_driver_sql("PRAGMA wal_autocheckpoint").scalar_one())


def _engine(tmp_path: Path) -> tuple[Engine, Path]:
    path = tmp_path / "night.db"
    engine = make_engine(f"sqlite:///{path.as_posix()}")
    with engine.begin() as connection:
        connection.execute(text("CREATE TABLE filler (id INTEGER PRIMARY KEY, body TEXT)"))
    return engine, path


def test_commits_leave_the_log_to_the_thread_which_copies_it_back_when_nudged(tmp_path: Path) -> None:
    engine, path = _engine(tmp_path)
    with background_checkpoints(engine) as checkpoints:
        assert _autocheckpoint(engine) == 0
        before = os.path.getsize(path)
        _write_pages(engine, 3000)
        assert os.path.getsize(path) == before  # committed, still only in the log
        checkpoints.nudge()
    assert checkpoints.done >= 1 and checkpoints.failures == []
    assert os.path.getsize(path) > before + 3000 * len(ROW)  # copied back into the file
    assert _autocheckpoint(engine) == AUTOMATIC_PAGES  # the pool's connections as they were
    with engine.connect() as connection:
        assert connection.execute(text("SELECT count(*) FROM filler")).scalar_one() == 3000
    engine.dispose()


def test_without_it_the_commit_copies_the_log_back_itself(tmp_path: Path) -> None:
    """The control: what the background thread takes off the committing thread."""
    engine, path = _engine(tmp_path)
    before = os.path.getsize(path)
    _write_pages(engine, 3000)
    assert os.path.getsize(path) > before + 3000 * len(ROW)
    engine.dispose()


def test_other_databases_are_left_as_they_are(db_url: str) -> None:
    engine = make_engine(db_url) if db_url.startswith("postgresql") else make_engine("sqlite:///:memory:")
    with background_checkpoints(engine) as checkpoints:
        checkpoints.nudge()
    assert checkpoints.done == 0
    engine.dispose()
