"""The write-ahead log is copied into a SQLite file by a thread after a commit, not in it."""

from __future__ import annotations

import logging
import threading
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import text
from sqlalchemy.orm import Session

from config.settings import Settings
from jobs.nightly import NightContext, Step, run_night
from models import checkpoint
from models.base import Base
from models.checkpoint import Checkpointer
from models.db import make_engine
from tests.arbitration.portfolio import AS_OF

BLOBS = 3_000  # of 4 KiB: some 12 MB of pages, past SQLite's 1,000-page automatic checkpoint


def _fill(session: Session) -> None:
    session.execute(text("CREATE TABLE IF NOT EXISTS filler (payload BLOB)"))
    session.execute(text("WITH RECURSIVE s(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM s WHERE i < :n) "
                         "INSERT INTO filler (payload) SELECT randomblob(4096) FROM s"), {"n": BLOBS})  # fmt: skip


def _autocheckpoint(session: Session) -> int:
    return int(session.execute(text("PRAGMA wal_autocheckpoint")).scalar_one())


def test_a_deferred_commit_leaves_the_pages_in_the_log_until_the_thread_copies_them(tmp_path: Path) -> None:
    path = tmp_path / "v.db"
    engine = make_engine(f"sqlite:///{path}")
    checkpointer = Checkpointer.for_engine(engine)
    assert checkpointer is not None
    with Session(engine) as session:
        checkpointer.defer(session)
        assert _autocheckpoint(session) == 0
        _fill(session)
        session.commit()  # the connection goes back to the pool, its own setting with it
    with Session(engine) as session:
        assert _autocheckpoint(session) == 1000
    assert path.stat().st_size < 1_000_000  # committed, in the log only
    checkpointer.start()
    checkpointer.wait()
    assert path.stat().st_size > BLOBS * 4096  # copied into the database file
    with Session(engine) as session:  # the contrast: a commit not deferred copies in the commit
        _fill(session)
        session.commit()
    assert path.stat().st_size > 2 * BLOBS * 4096
    with Session(engine) as session:
        assert session.execute(text("SELECT count(*) FROM filler")).scalar_one() == 2 * BLOBS
    engine.dispose()


def test_a_copy_that_fails_otherwise_than_by_the_database_is_raised_not_hidden(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(*args: Any, **kwargs: Any) -> Any:
        raise TypeError("a fault of the code")

    monkeypatch.setattr(checkpoint.sqlite3, "connect", broken)
    checkpointer = Checkpointer(tmp_path / "v.db")
    checkpointer.start()
    with pytest.raises(TypeError, match="a fault of the code"):
        checkpointer.wait()
    checkpointer.wait()  # raised once


def test_only_a_sqlite_file_has_a_checkpointer(tmp_path: Path) -> None:
    assert isinstance(Checkpointer.for_engine(make_engine(f"sqlite:///{tmp_path / 'v.db'}")), Checkpointer)
    assert Checkpointer.for_engine(make_engine("sqlite://")) is None
    assert Checkpointer.for_engine(make_engine("postgresql+psycopg://u@localhost/v")) is None


def test_a_checkpoint_that_cannot_run_is_a_warning_and_creates_no_database(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    gone = tmp_path / "gone.db"
    checkpointer = Checkpointer(gone)
    with caplog.at_level(logging.WARNING, logger="vigie.checkpoint"):
        checkpointer.start()
        checkpointer.wait()
    assert "nothing is lost" in caplog.text and str(gone) in caplog.text
    assert not gone.exists()


def test_a_night_on_sqlite_defers_each_units_checkpoint_to_the_thread_and_waits_for_it(
    sqlite_settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    engine = make_engine(sqlite_settings.database_url)
    Base.metadata.create_all(engine)
    seen: list[int] = []
    copies: list[str] = []
    copy = Checkpointer._copy

    def counted(self: Checkpointer) -> None:
        copy(self)
        copies.append(threading.current_thread().name)

    monkeypatch.setattr(Checkpointer, "_copy", counted)

    def filling(ctx: NightContext) -> dict[str, Any]:
        seen.append(_autocheckpoint(ctx.session))
        _fill(ctx.session)
        return {}

    groups = [[Step("fill", filling, "writes a dozen MB")], [Step("again", filling, "and a dozen more")]]
    assert run_night(engine, sqlite_settings, as_of=AS_OF, groups=groups).status == "succeeded"
    assert seen == [0, 0]
    assert copies == ["vigie-checkpoint", "vigie-checkpoint"]  # one per unit, each in its thread
    assert not [t for t in threading.enumerate() if t.name == "vigie-checkpoint"]
    assert Path(str(engine.url.database)).stat().st_size > 2 * BLOBS * 4096
    with Session(engine) as session:
        assert _autocheckpoint(session) == 1000  # the pool's connections as they were
    engine.dispose()
