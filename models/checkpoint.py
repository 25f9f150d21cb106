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
from contextlib import closing, contextmanager
from pathlib import Path
from typing import Any
from urllib.parse import quote

from sqlalchemy import Engine
from sqlalchemy.orm import Session

from models.db import DatabaseError, sqlite_file

log = logging.getLogger("vigie.checkpoint")

_BEFORE_KEY = "vigie_autocheckpoint"
"""A connection's own ``wal_autocheckpoint`` while a unit of work defers it, in the pool
record's info (put back by :func:`restore_autocheckpoint` as the connection returns)."""


class Checkpointer:
    """Defers the checkpoints of a unit of work's commit (:meth:`defer`) and runs them in a
    thread afterwards (:meth:`start`), one at a time; :meth:`wait` before relying on the
    database file itself (the night waits before it ends)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._thread: threading.Thread | None = None
        self._problem: BaseException | None = None

    @classmethod
    def for_engine(cls, engine: Engine) -> Checkpointer | None:
        """One for a SQLite file's engine; None for PostgreSQL or an in-memory database."""
        path = sqlite_file(engine)
        return None if path is None else cls(path)

    def defer(self, session: Session) -> None:
        """No checkpoint in the commits of ``session``'s connection until it returns to the
        pool: SQLite's ``wal_autocheckpoint`` set to 0, put back by the pool's ``checkin``
        hook (:func:`restore_autocheckpoint`), after the commit and before anyone else gets
        the connection (a session gives its connection back as it commits)."""
        proxied = session.connection().connection
        raw = proxied.dbapi_connection
        if raw is None:
            raise DatabaseError("the session has no live database connection")
        if _BEFORE_KEY not in proxied.info:
            (proxied.info[_BEFORE_KEY],) = raw.execute("PRAGMA wal_autocheckpoint").fetchone()
        raw.execute("PRAGMA wal_autocheckpoint=0")

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
        except BaseException as exc:  # handed to wait(), in the night's own thread
            self._problem = exc

    def wait(self) -> None:
        """Until the copy under way, if any, is done. A copy the database refused is a warning
        (nothing is lost); any other failure is raised here, not hidden in the thread."""
        if self._thread is not None:
            self._thread.join()
            self._thread = None
        problem, self._problem = self._problem, None
        if isinstance(problem, sqlite3.Error):
            log.warning(
                "the write-ahead log of %s was not copied into the database file now (%s); nothing is "
                "lost: the committed rows stay in the log until a later commit copies them",
                self.path,
                problem,
            )
        elif problem is not None:
            raise problem


def restore_autocheckpoint(dbapi_connection: Any, record: Any) -> None:
    """Pool ``checkin`` hook: the connection's own ``wal_autocheckpoint`` back, if a unit of
    work deferred it (:meth:`Checkpointer.defer`)."""
    before = record.info.pop(_BEFORE_KEY, None)
    if before is not None and dbapi_connection is not None:
        dbapi_connection.execute(f"PRAGMA wal_autocheckpoint={int(before)}")


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
