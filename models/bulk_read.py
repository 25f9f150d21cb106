"""Bulk reads of a SQLite file straight into Arrow columns (the nightly's million-row SELECTs).

Why: through the DBAPI every value of a result becomes a Python object before pandas packs it
into columns again. For the nightly's big reads that is most of the time: on a million-buyer
book, the 2.7M open limits took 4.6 s to fetch and 2.5 s more to become a frame. connectorx
reads the file in native code into Arrow arrays typed by the columns' declared types.

It reads through its own connection, so it only sees committed rows: :func:`read_bulk` uses it
only when the session's connection holds no uncommitted write (in SQLite's WAL mode a new
reader then sees exactly what the session would) and falls back to
:func:`models.db.read_frame` otherwise, and on PostgreSQL or an in-memory database.

Why in a process of its own: connectorx brings its own copy of SQLite, and POSIX file locks
belong to a process, not to a library. In the same process its SQLite cannot see the locks the
sqlite3 module's connections hold, takes itself for the database's last connection when it
closes, and deletes the write-ahead log and its index under them: the process's later commits
went to a deleted file, and any connection opened afterwards (a second one of the pool, the
admin server, ``vigie runs``) met "disk I/O error" or a log of its own. From a separate process
the locks are seen and nothing is deleted. The rows come back as an Arrow IPC file in shared
memory, mapped without a copy.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import subprocess
import sys
import tempfile
import threading
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor, wait
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import Any, NoReturn

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
from sqlalchemy import text
from sqlalchemy.orm import Session

from models import scratch
from models.db import DatabaseError, read_frame, sqlite_file

log = logging.getLogger("vigie.bulk_read")


def read_bulk(session: Session, sql: str, params: dict[str, Any] | None = None) -> pd.DataFrame:
    """The rows of ``sql``, the same frame as :func:`models.db.read_frame` returns, read in
    native code when the session's database is a SQLite file with nothing uncommitted in it.

    For plain SELECTs of declared columns: an expression column has no declared type and is
    typed from its first value, which fails when that value is NULL; a value that does not fit
    its declared type (text in an INTEGER column, a date-time with an offset) fails the read
    with :class:`DatabaseError`. Not for the session's temporary tables, which a second
    connection cannot see."""
    table = _read_native(session, sql, params)
    return read_frame(session, sql, params) if table is None else _as_read_frame(table)


def read_arrow(session: Session, sql: str, params: dict[str, Any] | None = None) -> pa.Table:
    """The rows of ``sql`` as an Arrow table, for a columnar engine (polars) to aggregate: read
    in native code as :func:`read_bulk` does, else through :func:`models.db.read_frame`. Text,
    whole numbers and floats have the same Arrow types either way; dates and booleans may not."""
    table = _read_native(session, sql, params)
    if table is not None:
        return table
    read = pa.Table.from_pandas(read_frame(session, sql, params), preserve_index=False)
    # pandas' text comes as large_string, with pandas' metadata: the native read's shape instead
    plain = pa.schema(
        pa.field(f.name, pa.string()) if pa.types.is_large_string(f.type) else f.remove_metadata()
        for f in read.schema
    )
    return read.cast(plain).replace_schema_metadata(None)


_READER_SCRIPT = Path(__file__).resolve().with_name("native_reader.py")


class _Reader:
    """The reader process (:mod:`models.native_reader`), started by the night (or the first
    bulk read) and kept for the life of this process; one request at a time, each answer
    naming the file it wrote, so a reply can never be taken for another request's."""

    def __init__(self) -> None:
        # the file run as a script: the reader imports connectorx and pyarrow only, not this
        # package (with SQLAlchemy and pandas it idled at 139 MB; now 12 MB, 85 MB after a read)
        self.process = subprocess.Popen(  # noqa: S603 - our own script, run by this interpreter
            [sys.executable, str(_READER_SCRIPT)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        self.lock = threading.Lock()

    def read(self, path: Path, query: str, out: str) -> None:
        request = json.dumps({"path": str(path), "query": query, "out": out})
        with self.lock:
            stdin, stdout = self.process.stdin, self.process.stdout
            if stdin is None or stdout is None:
                raise DatabaseError("the bulk reader process has no pipes")
            try:
                stdin.write(request + "\n")
                stdin.flush()
                line = stdout.readline()
            except OSError as exc:
                self._stopped(f"{exc}", query)
            try:
                answer = json.loads(line) if line else None
            except json.JSONDecodeError:
                answer = None
            if not isinstance(answer, dict) or answer.get("out") != out:
                self._stopped(f"exit code {self.process.poll()}, answer {line[:200]!r}", query)
        if not answer["ok"]:
            raise DatabaseError(f"query failed: {answer['error']}; query: {query[:300]}")

    def _stopped(self, problem: str, query: str) -> NoReturn:
        """The process is gone or out of step: ended (and reaped); the next read starts another."""
        self.process.kill()
        self.process.wait()
        raise _ReaderStopped(f"the bulk reader process stopped ({problem}); query: {query[:300]}")


class _ReaderStopped(DatabaseError):
    """The reader process is gone; the next read starts another."""


_READERS: list[_Reader] = []
"""The reader process once started (a list: no module-level rebinding)."""


_STARTING = threading.Lock()


def start_reader() -> None:
    """Start the reader process now, so that its start (about a second of imports, on the other
    core) is over by the first bulk read."""
    _current_reader()


def _current_reader() -> _Reader:
    """The reader process of the moment, started if there is none (under a lock: the read-ahead
    thread and the night's own thread both ask)."""
    with _STARTING:
        if not _READERS:
            _READERS.append(_Reader())
        return _READERS[0]


def _read_native(session: Session, sql: str, params: dict[str, Any] | None) -> pa.Table | None:
    """The rows read by connectorx in the reader process (or read ahead by :func:`prefetch`),
    or None where it would not see what the session sees."""
    path = _committed_sqlite_file(session)
    if path is None:
        return None
    query = _inline(session, sql, params or {})
    ahead = _PREFETCHED.pop((path, query), None)
    if ahead is not None:
        if ahead.guard is None or session.execute(text(ahead.guard)).scalar() == ahead.marker:
            return _collect(ahead)
        log.info("a read sent ahead is read again: the data changed since (%s)", ahead.guard)
        _discard(ahead)
    with tempfile.TemporaryDirectory(prefix=scratch.prefix("read"), dir=scratch.folder()) as folder:
        out = os.path.join(folder, "rows.arrow")
        _read_in_reader(path, query, out)
        return _mapped(out)


def _read_in_reader(path: Path, query: str, out: str) -> None:
    reader = _current_reader()
    try:
        reader.read(path, query, out)
    except _ReaderStopped:
        with _STARTING:  # forgotten only if no other thread replaced it already
            if _READERS and _READERS[0] is reader:
                _READERS.clear()
        raise


def _mapped(out: str) -> pa.Table:
    """The rows of an Arrow IPC file, mapped, not copied; the pages stay readable after the
    file is removed."""
    table: pa.Table = pa.ipc.open_file(pa.memory_map(out)).read_all()
    return table


@dataclass
class _Ahead:
    """A read sent ahead: the reader's answer to come, into a folder of its own."""

    answer: Future[None]
    scratch: str
    guard: str | None = None
    """A query of one value that changes with any commit the rows must not miss (its value
    when the read was sent: ``marker``); the read is taken only if it still gives that value."""
    marker: object = None


CHANGES_BY_ARBITERS = "SELECT max(audit_id) FROM audit_log"
"""A guard for :func:`prefetch`: every change an arbiter makes (a limit, a decision, a task)
writes an audit-log row in its own transaction; the night writes none."""


_PREFETCHED: dict[tuple[Path, str], _Ahead] = {}
_AHEAD = ThreadPoolExecutor(max_workers=1, thread_name_prefix="vigie-read-ahead")


def prefetch(
    session: Session, sql: str, params: dict[str, Any] | None = None, *, guard: str | None = None
) -> None:
    """Have the reader process read ``sql`` now, while this process works on, for a later
    :func:`read_bulk` of the same query on the same file to take (a no-op where a bulk read
    would not be native). Only for rows that the caller's own commits until that read leave
    alone (the night reads ahead the limits arbitration weighs while it scores, and the
    report's reads while it sends the e-mails). Others' commits: ``guard``, a query of one
    value that any of them would change (the night's: the last audit-log id, which every
    arbiter's change writes); if it gives another value when the read is taken, the rows
    are dropped and read again. The reader serves one read at a time, those sent ahead and
    the others in whatever order they reach it."""
    path = _committed_sqlite_file(session)
    if path is None:
        return
    query = _inline(session, sql, params or {})
    marker = session.execute(text(guard)).scalar() if guard is not None else None  # before the read
    folder = tempfile.mkdtemp(prefix=scratch.prefix("read"), dir=scratch.folder())
    answer = _AHEAD.submit(_read_in_reader, path, query, os.path.join(folder, "rows.arrow"))
    stale = _PREFETCHED.pop((path, query), None)
    _PREFETCHED[(path, query)] = _Ahead(answer, folder, guard, marker)
    if stale is not None:
        _discard(stale)


def _collect(ahead: _Ahead) -> pa.Table:
    try:
        ahead.answer.result()
        return _mapped(os.path.join(ahead.scratch, "rows.arrow"))
    finally:
        shutil.rmtree(ahead.scratch, ignore_errors=True)


def _discard(ahead: _Ahead) -> None:
    """Wait for a read sent ahead that no one took, and remove its rows (its failure, if any,
    belongs to no caller: the read it was for did not happen)."""
    wait([ahead.answer])
    shutil.rmtree(ahead.scratch, ignore_errors=True)


@contextmanager
def reads_ahead() -> Iterator[None]:
    """The reads :func:`prefetch` sends ahead within the block and no one takes (a night
    stopped, or failed, before the step that needed them) are dropped when it ends: their
    files removed once the reader is done with them."""
    try:
        yield
    finally:
        while _PREFETCHED:
            _discard(_PREFETCHED.popitem()[1])


def _as_read_frame(table: pa.Table) -> pd.DataFrame:
    """The Arrow table as :func:`models.db.read_frame` gives the same rows from SQLite: booleans
    as 0/1, dates and date-times as Python objects with NaN where missing."""
    for index, column in enumerate(table.columns):
        if pa.types.is_boolean(column.type):
            table = table.set_column(index, table.field(index).name, pc.cast(column, pa.int64()))
    frame = table.to_pandas(timestamp_as_object=True)
    for name, column in zip(table.column_names, table.columns, strict=True):
        if pa.types.is_temporal(column.type) and column.null_count:
            values = frame[name].to_numpy(dtype=object, copy=True)
            values[column.is_null().to_numpy(zero_copy_only=False)] = np.nan
            frame[name] = pd.Series(values, index=frame.index, dtype=object)
    return frame


def _committed_sqlite_file(session: Session) -> Path | None:
    """The SQLite file of the session if a second connection would see the same rows as the
    session (nothing flushed and uncommitted in it), else None."""
    if session.get_bind().dialect.name != "sqlite":
        return None
    session.flush()
    connection = session.connection()
    path = sqlite_file(connection.engine)
    # the stdlib driver opens a transaction only before a write (or to hold the write lock,
    # models.db.hold_write_lock): one open may hold writes the reader process cannot see
    if path is None or getattr(connection.connection.dbapi_connection, "in_transaction", True):
        return None
    return path


def _inline(session: Session, sql: str, params: dict[str, Any]) -> str:
    """``sql`` with its parameters written as SQL literals by SQLAlchemy's SQLite dialect
    (quotes doubled, booleans as 0/1): connectorx takes no bound values. Dates and date-times
    are first turned into the text the sqlite3 module binds for them (``isoformat``, a space
    before the time), so a comparison selects the same rows as through the session."""
    plain = {
        name: (value.isoformat(" ") if isinstance(value, datetime) else value.isoformat())
        if isinstance(value, date)
        else value
        for name, value in params.items()
    }
    statement = text(sql).bindparams(**plain) if plain else text(sql)
    return str(statement.compile(dialect=session.get_bind().dialect, compile_kwargs={"literal_binds": True}))
