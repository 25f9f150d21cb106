"""SQLite bulk writes through a staged file: the rows go in as whole Arrow columns, not per row.

Why: the sqlite3 module binds every value of every row from Python, and a first night writes
millions of rows (half a million decisions of 28 columns, a million scores). Measured on the
decisions of a million-buyer book: ``executemany`` with the table's five indexes 10-12 s
(plus 1.5-2 s turning the frame into tuples); the same rows ingested by the ADBC SQLite driver
(Apache Arrow's, binding from the columns in C, without the GIL) into a scratch file, then
copied by one ``INSERT ... SELECT`` in the session's own transaction: 1.3 s + 4.9 s.

How it stays safe:
- The ADBC driver brings its own copy of SQLite and POSIX locks belong to a process, so it must
  never open the night's database (see :mod:`models.bulk_read`): it only ever writes the
  scratch file, and closes it before the session's connection attaches that file.
- The copy runs in the session's transaction (ATTACH is allowed inside one): the rows are
  committed or rolled back with everything else of the unit of work.
- The scratch file is removed right after it is attached (the open handle keeps it readable)
  and detached when the connection goes back to the pool (SQLite refuses to detach a file used
  by the open transaction). A process killed while the driver writes it leaves the file: its
  name carries the process id, and the next night removes it
  (:func:`models.scratch.sweep`).
- Values are stored exactly as the sqlite3 module stores them: dates and date-times as the
  ISO text its adapters write, booleans as 0/1, missing values as NULL, floats bound for an
  integer column rounded (tested column by column against ``executemany``).
"""

from __future__ import annotations

import itertools
import os
import tempfile
from collections.abc import Sequence
from typing import Any

import pandas as pd
import pyarrow as pa
from sqlalchemy.orm import Session

from models import scratch
from models.db import DatabaseError, _column_values, bound_columns

STAGED_MIN_ROWS = 10_000
"""Fewer rows go through ``executemany``: below this the scratch file costs more than it saves."""

STAGES_PER_CONNECTION = 8
"""SQLite attaches at most 10 databases to a connection; past this many scratch files attached
(until the connection returns to the pool) the rows go through ``executemany`` instead."""

_STAGES_KEY = "vigie_stages"
_NUMBERS = itertools.count()


def staged_write(
    session: Session, table: str, frame: pd.DataFrame, columns: Sequence[str], conflict: str = ""
) -> int | None:
    """Write ``frame[columns]`` into ``table`` (SQLite) through a scratch file; ``conflict`` is
    an optional ``ON CONFLICT ...`` clause. Returns the rows written, or None when this path
    does not apply (see :func:`_stage`): the caller then binds the rows itself."""
    staged = _stage(session, frame, columns, table)
    if staged is None:
        return None
    raw, source = staged
    rebuilt = _plain_indexes_if_empty(raw, table) if not conflict else []
    if rebuilt and not raw.in_transaction:
        # the sqlite3 module opens a transaction before DML only: a DROP INDEX first would commit
        raw.execute("BEGIN")
    for name, _ in rebuilt:
        raw.execute(f"DROP INDEX {name}")
    names = ", ".join(columns)
    # in the frame's order (the scratch table's row order), which gives new rows their ids in
    # that order; "WHERE true": SQLite's parser needs a clause before ON CONFLICT
    where = " WHERE true" if conflict else ""
    _run(
        raw,
        f"INSERT INTO {table} ({names}) SELECT {names} FROM {source}{where} ORDER BY rowid {conflict}",
        table,
    )
    for _, sql in rebuilt:
        _run(raw, sql, table)
    return len(frame)


def _plain_indexes_if_empty(raw: Any, table: str) -> list[tuple[str, str]]:
    """The plain (not unique, not a constraint's) indexes of ``table`` with their SQL, if the
    table holds no row: filled first and indexed after, as a bulk load should be (a first
    night's 516k decisions: insert 5.2-6.3 s with the five indexes, 0.8-1.0 s without them plus
    2.9-3.2 s to build them). Dropped and built again in the same transaction: a rollback
    restores them, other connections keep reading with them meanwhile. A table with rows keeps
    its indexes (the insert is then the smaller part of the index)."""
    if raw.execute(f"SELECT 1 FROM {table} LIMIT 1").fetchone() is not None:
        return []
    plain = {row[1] for row in raw.execute(f"PRAGMA index_list({table})") if row[2] == 0 and row[3] == "c"}
    found = raw.execute("SELECT name, sql FROM sqlite_master WHERE type = 'index' AND tbl_name = ?", (table,))
    return [(name, sql) for name, sql in found if name in plain and sql]


def staged_update(
    session: Session, table: str, frame: pd.DataFrame, key: str, assignments: str, *, only_where: str = "true"
) -> int | None:
    """``UPDATE table SET assignments`` for each row of ``frame`` (SQLite), matched on ``key``
    (unique in ``frame``: an UPDATE ... FROM applies one source row per target row) and
    ``only_where``; in both the frame's columns are ``s.<name>``. Returns the rows changed, or
    None when this path does not apply (see :func:`_stage`)."""
    if frame[key].duplicated().any():
        return None
    staged = _stage(session, frame, list(frame.columns), table)
    if staged is None:
        return None
    raw, source = staged
    return _run(
        raw,
        f"UPDATE {table} SET {assignments} FROM {source} AS s WHERE {table}.{key} = s.{key} AND ({only_where})",
        table,
    )


def staged_count(
    session: Session, table: str, frame: pd.DataFrame, key: str, *, only_where: str = "true"
) -> int | None:
    """The rows of ``table`` that match a row of ``frame`` on ``key`` and ``only_where`` (the
    frame's columns are ``s.<name>``), counted in one join against a staged copy of ``frame``
    (SQLite), or None when staging does not apply (see :func:`_stage`)."""
    staged = _stage(session, frame, list(frame.columns), table)
    if staged is None:
        return None
    raw, source = staged
    sql = f"SELECT count(*) FROM {table} JOIN {source} AS s ON {table}.{key} = s.{key} AND ({only_where})"
    (count,) = _execute(raw, sql, f"bulk read of {table}").fetchone()
    return int(count)


def _run(raw: Any, sql: str, table: str) -> int:
    """``sql`` run; the rows it changed."""
    changed: int = _execute(raw, sql, f"bulk write into {table}").rowcount
    return changed


def _execute(raw: Any, sql: str, what: str) -> Any:
    """The cursor of ``sql`` run on ``raw``; a failure named by ``what``."""
    try:
        return raw.execute(sql)
    except Exception as exc:  # the DBAPI error type differs per driver
        raise DatabaseError(f"{what} failed: {exc}") from exc


def _stage(
    session: Session, frame: pd.DataFrame, columns: Sequence[str], table: str
) -> tuple[Any, str] | None:
    """The session's DBAPI connection and the attached scratch table holding ``frame[columns]``,
    or None when staging does not apply: too few rows, too many scratch files already attached
    to the connection, a column of mixed Python types."""
    if len(frame) < STAGED_MIN_ROWS:
        return None
    connection = session.connection()
    stages: list[str] = connection.connection.info.setdefault(_STAGES_KEY, [])
    if len(stages) >= STAGES_PER_CONNECTION:
        return None
    arrow = sqlite_columns(frame, columns, table)
    raw = connection.connection.dbapi_connection
    if arrow is None or raw is None:
        return None
    handle, path = tempfile.mkstemp(prefix=scratch.prefix("stage"), suffix=".db", dir=scratch.folder())
    os.close(handle)
    os.unlink(path)  # the driver creates its own database file there
    schema = f"vigie_stage_{next(_NUMBERS)}"
    try:
        try:
            _ingest(path, arrow)
        except Exception as exc:  # the driver's own error types
            raise DatabaseError(f"staging {len(frame)} rows for {table} in {path} failed: {exc}") from exc
        raw.execute(f"ATTACH DATABASE ? AS {schema}", (path,))
        stages.append(schema)
    finally:
        if os.path.exists(path):
            os.unlink(path)  # attached: the connection's open handle keeps it readable
    return raw, f"{schema}.rows"


def _ingest(path: str, arrow: pa.Table) -> None:
    """Write the rows into a new SQLite file with the ADBC driver (no journal, no sync: a
    scratch file that no one else reads, detached when the connection returns to the pool)."""
    import adbc_driver_sqlite.dbapi as adbc

    with adbc.connect(path, autocommit=True) as stage, stage.cursor() as cursor:
        cursor.execute("PRAGMA journal_mode=OFF")  # set outside a transaction, as SQLite asks
        cursor.execute("PRAGMA synchronous=OFF")
        cursor.adbc_ingest("rows", arrow, mode="create")


def detach_stages(dbapi_connection: Any, record: Any) -> None:
    """Pool ``checkin`` hook: detach the scratch files of the transaction that just ended
    (their removed files are freed when the last handle closes)."""
    stages: list[str] = record.info.get(_STAGES_KEY, [])
    if dbapi_connection is None:  # invalidated: closing it detached everything
        stages.clear()
    while stages:
        dbapi_connection.execute(f"DETACH DATABASE {stages[-1]}")
        stages.pop()


def sqlite_columns(frame: pd.DataFrame, columns: Sequence[str], table: str | None) -> pa.Table | None:
    """``frame[columns]`` as Arrow columns holding what the sqlite3 module would store: integers,
    floats (NaN as null), text, dates and date-times as its ISO text, booleans as 0/1. None if a
    column holds values of mixed types (the per-row path stores those as they come)."""
    arrays: list[pa.Array | pa.ChunkedArray] = []
    for series in bound_columns(frame, columns, table):
        array = _sqlite_column(series)
        if array is None:
            return None
        arrays.append(array)
    return pa.table(arrays, names=list(columns))


def _sqlite_column(series: pd.Series) -> pa.Array | pa.ChunkedArray | None:
    if isinstance(series.dtype, pd.DatetimeTZDtype) or pd.api.types.is_datetime64_dtype(series):
        return pa.array(_column_values(series, iso_dates=True), type=pa.string())
    if isinstance(series.dtype, pd.CategoricalDtype):
        series = series.astype(series.cat.categories.dtype)
    if pd.api.types.is_bool_dtype(series):
        return pa.array(series.astype("Int64"), from_pandas=True)
    if series.dtype == object:
        return _object_column(_column_values(series, iso_dates=True))
    try:
        array = pa.array(series, from_pandas=True)
    except (pa.ArrowInvalid, pa.ArrowTypeError):
        return None  # not one Arrow type: left to the per-row path
    if pa.types.is_boolean(array.type):
        return array.cast(pa.int64())
    if pa.types.is_temporal(array.type) or pa.types.is_decimal(array.type):
        return _object_column(_column_values(series, iso_dates=True))
    return array if not pa.types.is_null(array.type) else array.cast(pa.int64())


def _object_column(values: list[Any]) -> pa.Array | None:
    """Plain Python values (dates already ISO text) as one Arrow column, or None if they mix
    types Arrow cannot hold in one column (the sqlite3 module would store each as it is)."""
    kinds = {type(v) for v in values if v is not None}
    if not kinds:
        return pa.nulls(len(values), type=pa.int64())
    if kinds <= {bool, int}:  # what the sqlite3 module stores for True: the integer 1
        return pa.array([None if v is None else int(v) for v in values], type=pa.int64())
    if len(kinds) > 1 or not kinds <= {float, str}:
        return None  # e.g. 3 and 3.0 in one column: stored as INTEGER and REAL one by one
    return pa.array(values, type=pa.float64() if float in kinds else pa.string())
