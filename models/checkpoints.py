"""SQLite's write-ahead log copied back into the database by a thread of its own during a night.

In WAL mode SQLite copies the log back into the database file (a *checkpoint*) at the commit
that leaves it past 1,000 pages, in the committing thread: on a first night about 0.7 s for
each 300 MB a unit of work writes (517k decisions; measured 0.6-0.8 s), some 3 s a night, on
the night's one busy core. While :func:`background_checkpoints` is active, the engine's
connections leave it (``wal_autocheckpoint = 0``) and a thread checkpoints after each commit
it is told of, on a connection of its own. ``PASSIVE`` never waits for the writer nor blocks it,
and the sqlite3 module releases the GIL while SQLite works, so the copy runs on the other core
beside the next step. Readers gain too: once the log is fully copied back they ignore it.

Nothing is at stake if a checkpoint does not happen: committed rows are safe in the log, and
the next checkpoint (this thread's, a connection's at close, or the usual automatic one once
the night is over) copies them.
"""

from __future__ import annotations

import logging
import sqlite3
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import Engine, event

log = logging.getLogger("vigie.db")

AUTOMATIC_PAGES = 1000
"""SQLite's default ``wal_autocheckpoint``, given back to each connection when it returns to
the pool."""


class Checkpoints:
    """What :func:`background_checkpoints` yields: :meth:`nudge` after a commit; ``done``
    counts the checkpoints that copied the whole log back, ``failures`` the errors met."""

    def __init__(self) -> None:
        self.done = 0
        self.failures: list[str] = []

    def nudge(self) -> None:
        """Ask for a checkpoint (nothing to do for a database other than a SQLite file)."""


class _Checkpointer(Checkpoints):
    """One thread, one connection: a PASSIVE checkpoint each time it is nudged."""

    def __init__(self, path: str) -> None:
        super().__init__()
        self.path = path
        self.nudged = threading.Event()
        self.stopping = False
        self.thread = threading.Thread(target=self._run, name="vigie-wal-checkpoint", daemon=True)

    def _run(self) -> None:
        connection = sqlite3.connect(self.path, timeout=30)
        try:
            while True:
                self.nudged.wait()
                self.nudged.clear()
                self._checkpoint(connection)
                if self.stopping:
                    return
        finally:
            connection.close()

    def _checkpoint(self, connection: sqlite3.Connection) -> None:
        try:
            busy, _log_pages, _copied = connection.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()
        except sqlite3.Error as exc:  # not fatal: the log keeps the rows (see the module doc)
            self.failures.append(str(exc))
            log.warning(
                "background checkpoint of %s failed (%s); the log is copied back later", self.path, exc
            )
            return
        self.done += 1 if busy == 0 else 0

    def nudge(self) -> None:
        self.nudged.set()

    def stop(self) -> None:
        self.stopping = True
        self.nudged.set()
        self.thread.join()


def _automatic(pages: int) -> Callable[..., None]:
    def set_pages(dbapi_connection: Any, *_: Any) -> None:
        cursor = dbapi_connection.cursor()
        try:
            cursor.execute(f"PRAGMA wal_autocheckpoint={pages}")
        finally:
            cursor.close()

    return set_pages


@contextmanager
def background_checkpoints(engine: Engine) -> Iterator[Checkpoints]:
    """While active, ``engine``'s connections do not checkpoint at commit; the yielded
    object's :meth:`~Checkpoints.nudge` asks the background thread for one (call it after a
    commit). The last checkpoint runs, and the thread ends, on exit. A database other than a
    SQLite file: nothing changes and ``nudge`` does nothing."""
    database = engine.url.database
    if engine.dialect.name != "sqlite" or not database or database == ":memory:":
        yield Checkpoints()
        return
    manual, automatic = _automatic(0), _automatic(AUTOMATIC_PAGES)
    event.listen(engine, "checkout", manual)
    event.listen(engine, "checkin", automatic)
    checkpointer = _Checkpointer(database)
    checkpointer.thread.start()
    try:
        yield checkpointer
    finally:
        event.remove(engine, "checkout", manual)
        event.remove(engine, "checkin", automatic)
        checkpointer.stop()
