"""One process at a time per business date, even with two schedulers racing.

PostgreSQL: a session-level advisory lock keyed by the business date, held on a dedicated
connection for the whole run. SQLite: an exclusive ``flock`` on a lock file beside the
database. Both are released by the operating system or the server when the process dies
(kill -9 included), so a crashed run never blocks the next one, and the ``run`` table's
unique business date remains the last line of defence.
"""

from __future__ import annotations

import fcntl
import os
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date
from pathlib import Path

from sqlalchemy import Engine, text


class RunLocked(Exception):
    """Another process is running this business date right now."""


@contextmanager
def run_lock(engine: Engine, *, business_date: date, lock_dir: Path) -> Iterator[None]:
    """Hold the lock of ``business_date`` for the duration of the block, or raise RunLocked."""
    if engine.dialect.name == "postgresql":
        key = int(business_date.strftime("%Y%m%d"))
        with engine.connect() as connection:
            got = connection.execute(text("SELECT pg_try_advisory_lock(7421, :k)"), {"k": key}).scalar()
            if not got:
                raise RunLocked(f"the run of {business_date} is already in progress in another process")
            try:
                yield
            finally:
                connection.execute(text("SELECT pg_advisory_unlock(7421, :k)"), {"k": key})
                connection.commit()
        return
    lock_dir.mkdir(parents=True, exist_ok=True)
    path = lock_dir / f"run-{business_date.isoformat()}.lock"
    handle = os.open(path, os.O_CREAT | os.O_RDWR, 0o644)
    try:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise RunLocked(f"the run of {business_date} is already in progress in another process") from None
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)
    finally:
        os.close(handle)
