"""SQLite's write-ahead log copied into the database file beside the night's next steps, not
inside its big commits.

Why: SQLite copies the log into the database file (a checkpoint) in the commit that takes the
log past a thousand pages, on the committing thread. A first night's decisions unit (decisions,
limits, eligibility, e-mails: about a gigabyte of pages) then spent 5.2-6.6 s in its commit,
checkpoint included; with the checkpoint left to a thread of its own, started right after the
commit, the commit took 1.6-1.8 s and the copy went on while the e-mails were sent.

Safe by SQLite's design: a checkpoint copies only committed pages, never blocks a writer (mode
PASSIVE), and one cut short by a crash is simply done again (the log holds every committed row
until it is copied). A checkpoint that cannot run loses nothing either: the rows stay in the log
and the next commit that finds it long copies them; it is logged as a warning.
"""

from __future__ import annotations

import logging
import sqlite3
import threading
from collections.abc import Iterator
from contextlib import closing, contextmanager, suppress
from pathlib import Path
from urllib.parse import quote

from sqlalchemy import Engine
from sqlalchemy.orm import Session

log = logging.getLogger("vigie.checkpoint")


class Checkpointer:
    """Defers the checkpoints of a unit of work's commit (:meth:`deferred`) and runs them in a
    thread afterwards (:meth:`start`), one at a time; :meth:`wait` before relying on the
    database file itself (the night waits before it ends)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._thread: threading.Thread | None = None
        self._problem: str | None = None

    @classmethod
    def for_engine(cls, engine: Engine) -> Checkpointer | None:
        """One for a SQLite file's engine; None for PostgreSQL or an in-memory database."""
        database = engine.url.database
        if (
            engine.dialect.name != "sqlite"
            or not database
            or database == ":memory:"
            or database.startswith("file:")
        ):
            return None
        return cls(Path(database))

    @contextmanager
    def deferred(self, session: Session) -> Iterator[None]:
        """No checkpoint in the commits of ``session``'s connection within the block (SQLite's
        ``wal_autocheckpoint`` set to 0, then put back as it was)."""
        raw = session.connection().connection.dbapi_connection
        if raw is None:
            raise RuntimeError("expected the session's DBAPI connection, found none")
        (before,) = raw.execute("PRAGMA wal_autocheckpoint").fetchone()
        raw.execute("PRAGMA wal_autocheckpoint=0")
        try:
            yield
        finally:
            with suppress(sqlite3.ProgrammingError):  # closed by the error in flight: nothing to put back
                raw.execute(f"PRAGMA wal_autocheckpoint={int(before)}")

    def start(self) -> None:
        """Copy the log into the database file in a thread, once the previous copy is done."""
        self.wait()
        self._thread = threading.Thread(target=self._copy, name="vigie-checkpoint", daemon=False)
        self._thread.start()

    def _copy(self) -> None:
        try:
            # mode=rw: never creates a database where the night's one is gone
            with closing(
                sqlite3.connect(f"file:{quote(str(self.path))}?mode=rw", uri=True, timeout=30)
            ) as db:
                db.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()
        except sqlite3.Error as exc:
            self._problem = str(exc)

    def wait(self) -> None:
        """Until the copy under way, if any, is done."""
        if self._thread is not None:
            self._thread.join()
            self._thread = None
        if self._problem is not None:
            log.warning(
                "the write-ahead log of %s was not copied into the database file now (%s); nothing is "
                "lost: the committed rows stay in the log until a later commit copies them",
                self.path,
                self._problem,
            )
            self._problem = None


@contextmanager
def checkpoints(engine: Engine) -> Iterator[Checkpointer | None]:
    """A :class:`Checkpointer` for ``engine`` (None when it is not a SQLite file's), whose copy
    under way is waited for when the block ends, however it ends."""
    checkpointer = Checkpointer.for_engine(engine)
    try:
        yield checkpointer
    finally:
        if checkpointer is not None:
            checkpointer.wait()
