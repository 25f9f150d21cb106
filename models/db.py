"""Engine, sessions, migrations and the bulk-write helper.

Why a bulk helper: on the nightly path ORM objects cost 10-50x more than a raw DBAPI
``executemany`` of tuples (SQLite) or ``COPY`` (PostgreSQL). Everything that writes many rows
goes through :func:`bulk_insert` / :func:`bulk_upsert`; the ORM is for small transactions.
"""

from __future__ import annotations

import sqlite3
import weakref
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from datetime import date, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Engine, Integer, Select, create_engine, event, text
from sqlalchemy.exc import OperationalError, SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker

from models.base import Base

MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"


class DatabaseError(Exception):
    """The database cannot be used; the message names the cause and the fix."""


class ChangedMeanwhile(DatabaseError):
    """Rows a unit of work read were changed by someone else (an arbiter) before it wrote over
    them. Nothing of the unit may be kept: rolled back and run again, it reads what is now
    committed and decides on that."""


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=30000")
    # 256 MiB of page cache instead of SQLite's 2 MiB default: the nightly reads and writes
    # millions of rows through indexes; measured on a million-buyer book, the cover sums of the
    # report ran 2x faster. Sorts and temporary b-trees (GROUP BY) keep SQLite's default
    # temporary files (which the OS caches): with temp_store=MEMORY that GROUP BY of 2.7M limits
    # took 6.9-7.2 s instead of 4.4-5.1 s on the same book.
    cursor.execute("PRAGMA cache_size=-262144")
    # sorts of SQLite's own (an index built, a big ORDER BY) may use two helper threads: the five
    # indexes of a first night's 516k decisions built in 2.11-2.20 s instead of 2.53-2.56 s
    cursor.execute("PRAGMA threads=2")
    cursor.close()


_ENGINES: weakref.WeakSet[Engine] = weakref.WeakSet()
"""Every engine made here and still alive, for :func:`dispose_engines`."""


def dispose_engines() -> None:
    """Close the pooled connections of every engine made by :func:`make_engine` and still
    alive: a process ending closes them itself (SQLite copies its write-ahead log into the
    file and removes it as the last one closes) even when they sit in reference cycles that
    its last garbage collections will not walk (see :func:`jobs.cli_support.end_of_process`)."""
    for engine in list(_ENGINES):
        engine.dispose()


def sqlite_file(engine: Engine) -> Path | None:
    """The file holding a SQLite engine's database, or None: PostgreSQL, an in-memory database,
    or a ``file:`` URI (whose file is not the URL's path)."""
    database = engine.url.database
    if (
        engine.dialect.name != "sqlite"
        or not database
        or database == ":memory:"
        or database.startswith("file:")
    ):
        return None
    return Path(database).resolve()


def make_engine(url: str, *, echo: bool = False) -> Engine:
    """Create an engine; for a SQLite file, create its folder and set WAL + busy timeout so a
    second process (the admin server, a second scheduler) waits instead of failing."""
    if url.startswith("sqlite:///"):
        path = Path(url.removeprefix("sqlite:///"))
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise DatabaseError(
                f"cannot create the database folder {path.parent}: {exc.strerror}; "
                "set VIGIE_WORKDIR to a writable folder"
            ) from None
    engine = create_engine(url, echo=echo, future=True)
    _ENGINES.add(engine)
    if engine.dialect.name == "sqlite":
        from models.bulk_write import detach_stages
        from models.checkpoint import restore_autocheckpoint

        event.listen(engine, "connect", _sqlite_pragmas)
        event.listen(engine, "checkin", detach_stages)
        event.listen(engine, "checkin", restore_autocheckpoint)
    return engine


def session_factory(engine: Engine) -> sessionmaker[Session]:
    return sessionmaker(engine, expire_on_commit=False)


@contextmanager
def unit_of_work(factory: sessionmaker[Session]) -> Iterator[Session]:
    """One transaction: commit on success, roll back on any error (then re-raise)."""
    session = factory()
    try:
        yield session
        session.commit()
    except BaseException:
        session.rollback()
        raise
    finally:
        session.close()


def alembic_config(url: str) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
    cfg.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return cfg


def upgrade(engine: Engine, revision: str = "head") -> None:
    """Apply the Alembic migrations up to ``revision`` on this engine's database."""
    cfg = alembic_config(engine.url.render_as_string(hide_password=False))
    try:
        with engine.begin() as connection:
            cfg.attributes["connection"] = connection
            command.upgrade(cfg, revision)
    except OperationalError as exc:
        raise DatabaseError(_unreachable(engine, exc)) from None


def _unreachable(engine: Engine, exc: Exception) -> str:
    where = engine.url.render_as_string(hide_password=True)
    first = str(getattr(exc, "orig", exc)).strip().splitlines()[0]
    return f"database {where} is unreachable ({first}); check VIGIE_DATABASE__URL and that the server runs"


def check_ready(engine: Engine) -> None:
    """Fail with a clear message unless the database is reachable and fully migrated."""
    head = ScriptDirectory.from_config(alembic_config(str(engine.url))).get_current_head()
    try:
        with engine.connect() as connection:
            current = MigrationContext.configure(connection).get_current_revision()
    except OperationalError as exc:
        raise DatabaseError(_unreachable(engine, exc)) from None
    if current != head:
        found = current or "no schema"
        raise DatabaseError(
            f"database is not migrated (expected revision {head}, found {found}); run `vigie db upgrade`"
        )


def _column_values(series: pd.Series, *, iso_dates: bool = False) -> list[Any]:
    """One column as plain Python values (int, float, str, bool, date, None) for the DBAPI;
    with ``iso_dates``, dates and date-times as the ISO text SQLite stores (see :func:`_as_iso`)."""
    if isinstance(series.dtype, pd.DatetimeTZDtype) or pd.api.types.is_datetime64_dtype(series):
        has_time = bool((series.dropna() != series.dropna().dt.normalize()).any())
        if iso_dates:  # each distinct value converted once (a night's rows share one time stamp)
            codes, uniques = pd.factorize(series)
            stamps = pd.DatetimeIndex(uniques)  # what factorize returns for a datetime column
            plain = stamps.to_pydatetime() if has_time else stamps.date
            texts = np.array([*(_iso(v) for v in plain), None], dtype=object)
            return list(texts[codes].tolist())  # code -1 (missing) picks the trailing None
        values = series.dt.to_pydatetime() if has_time else series.dt.date
        out = list(pd.Series(values, dtype="object").where(series.notna().to_numpy(), None))
    else:
        out = list(series.to_numpy(dtype=object, na_value=None).tolist())  # type: ignore[call-overload]  # pandas-stubs lack na_value=None
    return _as_iso(out) if iso_dates else out


def _iso(value: date) -> str:
    """What the sqlite3 module's own adapters write: ``isoformat()`` for a date,
    ``isoformat(" ")`` for a date-time."""
    return value.isoformat(" ") if isinstance(value, datetime) else value.isoformat()


def _as_iso(values: list[Any]) -> list[Any]:
    """The dates and date-times of a column as the text the sqlite3 module's own adapters would
    write, each distinct value converted once: the module calls its adapter for every value
    (0.6 s for a night's million scores; 1.4 s for the time stamps of a first night's 517k
    decisions, which all share the run's)."""
    first = next((v for v in values if v is not None), None)
    if not isinstance(first, date):
        return values
    texts: dict[object, str] = {}
    out: list[Any] = []
    for value in values:
        if type(value) is date or type(value) is datetime:
            # the same instant at two offsets compares equal: keyed with its zone, each keeps its own
            key = (value, value.tzinfo) if type(value) is datetime else value
            text_ = texts.get(key)
            if text_ is None:
                text_ = texts[key] = _iso(value)
            out.append(text_)
        else:
            out.append(value)
    return out


def frame_rows(
    frame: pd.DataFrame, columns: Sequence[str], table: str | None = None, *, iso_dates: bool = False
) -> list[tuple[Any, ...]]:
    """Rows of ``frame[columns]`` as tuples of plain Python values, converted column-wise.

    With ``table``, float columns bound for an integer column are rounded to integers first
    (a NaN turns an integer column into floats in pandas; ``COPY`` would refuse ``4.0``).
    ``iso_dates`` (SQLite): dates as ISO text, converted once per distinct day."""
    values = [_column_values(series, iso_dates=iso_dates) for series in bound_columns(frame, columns, table)]
    return list(zip(*values, strict=True))


def bound_columns(frame: pd.DataFrame, columns: Sequence[str], table: str | None) -> Iterator[pd.Series]:
    """The columns of ``frame[columns]`` as they are bound: a float column bound for an integer
    column of ``table`` rounded to integers first (a NaN turns an integer column into floats in
    pandas; ``COPY`` would refuse ``4.0``)."""
    target = Base.metadata.tables.get(table) if table else None
    for name in columns:
        series = frame[name]
        bound_for_integer = (
            target is not None and name in target.c and isinstance(target.c[name].type, Integer)
        )
        if bound_for_integer and pd.api.types.is_float_dtype(series):
            series = series.round().astype("Int64")
        yield series


def is_sqlite(session: Session) -> bool:
    """Whether the session's database is SQLite (else PostgreSQL)."""
    return session.connection().dialect.name == "sqlite"


def hold_write_lock(session: Session, table: str) -> None:
    """SQLite: take the database's write lock now. The stdlib driver opens a transaction only
    before a write, so the reads before it each see the latest commit; from here on no other
    connection can commit until this transaction ends: what the session reads next is what it
    will write over. With no transaction open, ``BEGIN IMMEDIATE``; with one open (a savepoint,
    or reads only, may not have locked yet), an update of ``table`` that changes nothing. No-op
    elsewhere (PostgreSQL locks per row)."""
    if not is_sqlite(session):
        return
    raw = session.connection().connection.dbapi_connection
    if raw is None:
        raise DatabaseError("the session has no live database connection")
    try:
        if raw.in_transaction:
            raw.execute(f"UPDATE {table} SET rowid = rowid WHERE 0")
        else:
            raw.execute("BEGIN IMMEDIATE")
    except sqlite3.OperationalError as exc:
        raise DatabaseError(
            f"could not take the database's write lock ({exc}): another connection has held it "
            "longer than the busy timeout"
        ) from exc


def placeholder(session: Session) -> str:
    """The DBAPI parameter mark of the session's driver (``?`` for SQLite, ``%s`` for psycopg)."""
    return "?" if is_sqlite(session) else "%s"


def executemany(session: Session, sql: str, rows: list[tuple[Any, ...]], table: str) -> int:
    """Run ``sql`` for every row on the session's own DBAPI connection (same transaction).
    Returns the rows given."""
    _executemany(session, sql, rows, table)
    return len(rows)


def changed_by_each(session: Session, sql: str, rows: list[tuple[Any, ...]], table: str) -> int:
    """:func:`executemany`, returning the rows the statements changed, summed (sqlite3 and
    psycopg both sum them): an UPDATE whose WHERE matches nothing counts 0."""
    changed = _executemany(session, sql, rows, table)
    if changed < 0:
        raise DatabaseError(f"the driver did not count the rows changed in {table}")
    return changed


def _executemany(session: Session, sql: str, rows: list[tuple[Any, ...]], table: str) -> int:
    raw = session.connection().connection.dbapi_connection
    if raw is None:
        raise DatabaseError("the session has no live database connection")
    cursor = raw.cursor()
    try:
        cursor.executemany(sql, rows)
        changed: int = cursor.rowcount
    except Exception as exc:  # the DBAPI error type differs per driver
        raise DatabaseError(f"bulk write into {table} failed: {exc}") from exc
    finally:
        cursor.close()
    return changed


def _copy(session: Session, table: str, columns: Sequence[str], rows: list[tuple[Any, ...]]) -> None:
    """PostgreSQL ``COPY ... FROM STDIN``: several times faster than INSERTs for many rows."""
    raw = session.connection().connection.dbapi_connection
    if raw is None:
        raise DatabaseError("the session has no live database connection")
    cursor = raw.cursor()
    try:
        with cursor.copy(f"COPY {table} ({', '.join(columns)}) FROM STDIN") as copy:  # type: ignore[attr-defined]
            for row in rows:
                copy.write_row(row)
    except Exception as exc:  # the DBAPI error type differs per driver
        raise DatabaseError(f"bulk write into {table} failed: {exc}") from exc
    finally:
        cursor.close()


def bulk_insert(session: Session, table: str, frame: pd.DataFrame, columns: Sequence[str]) -> int:
    """Insert every row of ``frame[columns]`` into ``table`` in the session's transaction.

    SQLite: a raw DBAPI ``executemany`` of tuples; PostgreSQL: ``COPY``. Returns the number
    of rows written."""
    if frame.empty:
        return 0
    if is_sqlite(session):
        from models.bulk_write import staged_write

        staged = staged_write(session, table, frame, columns)
        if staged is not None:
            return staged
    rows = frame_rows(frame, columns, table, iso_dates=is_sqlite(session))
    if session.connection().dialect.name == "postgresql":
        _copy(session, table, columns, rows)
        return len(rows)
    marks = ", ".join([placeholder(session)] * len(columns))
    sql = f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({marks})"
    return executemany(session, sql, rows, table)


def bulk_upsert(
    session: Session,
    table: str,
    frame: pd.DataFrame,
    columns: Sequence[str],
    key: Sequence[str],
) -> int:
    """Insert rows, or update the non-key columns of rows whose ``key`` already exists.

    When ``frame`` holds a key twice, the last row wins on both backends. Returns the number
    of distinct keys written."""
    if frame.empty:
        return 0
    frame = frame.drop_duplicates(subset=list(key), keep="last")
    if is_sqlite(session):
        from models.bulk_write import staged_write

        staged = staged_write(session, table, frame, columns, _on_conflict(columns, key))
        if staged is not None:
            return staged
    return upsert_rows(
        session, table, columns, frame_rows(frame, columns, table, iso_dates=is_sqlite(session)), key
    )


def upsert_rows(
    session: Session,
    table: str,
    columns: Sequence[str],
    rows: list[tuple[Any, ...]],
    key: Sequence[str],
) -> int:
    """:func:`bulk_upsert` of plain rows (one per key). Both backends speak ``INSERT ... ON
    CONFLICT (key) DO UPDATE``; PostgreSQL first copies the rows into a temporary stage."""
    if not rows:
        return 0
    conflict = _on_conflict(columns, key)
    names = ", ".join(columns)
    if session.connection().dialect.name == "postgresql":
        stage = f"_stage_{table}"
        session.execute(text(f"CREATE TEMP TABLE {stage} AS SELECT {names} FROM {table} WITH NO DATA"))
        try:
            _copy(session, stage, columns, rows)
            session.execute(text(f"INSERT INTO {table} ({names}) SELECT {names} FROM {stage} {conflict}"))
        finally:
            session.execute(text(f"DROP TABLE IF EXISTS {stage}"))
        return len(rows)
    marks = ", ".join([placeholder(session)] * len(columns))
    return executemany(session, f"INSERT INTO {table} ({names}) VALUES ({marks}) {conflict}", rows, table)


def _on_conflict(columns: Sequence[str], key: Sequence[str]) -> str:
    """The upsert clause: update every non-key column from the incoming row."""
    updates = [c for c in columns if c not in key]
    action = "DO UPDATE SET " + ", ".join(f"{c} = excluded.{c}" for c in updates) if updates else "DO NOTHING"
    return f"ON CONFLICT ({', '.join(key)}) {action}"


def bound_list(prefix: str, values: Iterable[object]) -> tuple[str, dict[str, str]]:
    """``:p0, :p1, ...`` for an SQL ``IN (...)`` and the matching parameters (values as text)."""
    names = {f"{prefix}{i}": str(v) for i, v in enumerate(values)}
    return ", ".join(f":{n}" for n in names), names


_ISO_DATE = r"\d{4}-\d{2}-\d{2}"
_ISO_DATETIME = r"\d{4}-\d{2}-\d{2}[ T]\d{2}:\d{2}:\d{2}(\.\d+)?([+-]\d{2}:\d{2})?"


def _sqlite_dates(frame: pd.DataFrame) -> pd.DataFrame:
    """SQLite hands raw SQL dates back as ISO text; PostgreSQL as ``date`` objects. Give both
    the same shape so code above the database never depends on the backend."""
    for column in frame.columns:
        series = frame[column]
        if not (series.dtype == object or pd.api.types.is_string_dtype(series)):
            continue
        head = series.dropna().iloc[:50]
        if head.empty or not all(isinstance(v, str) for v in head):
            continue
        # the first values decide cheaply for the many text columns that are not dates (ids,
        # names: a million distinct values each); only a likely date column is factorized
        if pd.Series(head, dtype=object).str.fullmatch(_ISO_DATE).all():
            pattern, parse = _ISO_DATE, date.fromisoformat
        elif pd.Series(head, dtype=object).str.fullmatch(_ISO_DATETIME).all():
            pattern, parse = _ISO_DATETIME, datetime.fromisoformat
        else:
            continue
        codes, uniques = pd.factorize(series)
        texts = pd.Series(np.asarray(uniques, dtype=object), dtype=object)
        if texts.map(lambda v: isinstance(v, str)).all() and texts.str.fullmatch(pattern).all():
            frame[column] = _parsed(series, codes, texts.tolist(), parse)
    return frame


def _parsed(
    series: pd.Series, codes: np.ndarray, uniques: list[str], parse: Callable[[str], Any]
) -> pd.Series:
    """``parse`` applied to each distinct value once (a date column of millions of rows has a
    few thousand distinct days), missing values kept as they are; an object column."""
    out = series.astype(object).to_numpy(copy=True)
    known = codes >= 0
    out[known] = np.array([parse(v) for v in uniques], dtype=object)[codes[known]]
    return pd.Series(out, index=series.index, dtype=object)


def _plain_rows(result: Any) -> list[tuple[Any, ...]]:
    """All rows as plain tuples, not ``Row`` objects: pandas probes every row for attributes
    (a Row answers each probe with an exception), which made the frame constructor 5-10x
    slower than the read itself. A raw SQL text has no typed columns, so SQLAlchemy converts
    nothing: the driver's own tuples are then taken as they are (a third faster again); if
    some column does have a converter, the rows go through SQLAlchemy as usual."""
    processors = getattr(result.context, "compiled", None) is not None and getattr(
        getattr(result, "_metadata", None), "_processors", None
    )
    cursor = getattr(result, "cursor", None)
    if isinstance(processors, list) and cursor is not None and all(p is None for p in processors):
        rows = cursor.fetchall()
        result.close()
        return rows if rows and isinstance(rows[0], tuple) else [tuple(row) for row in rows]
    return [tuple(row) for row in result.fetchall()]


def mapped_rows(session: Session, stmt: Select) -> list[dict[str, Any]]:  # type: ignore[type-arg]
    """The rows of a SELECT as dicts keyed by column label (the admin screens' few rows; a
    night's many rows go through :func:`read_frame`)."""
    return [dict(row._mapping) for row in session.execute(stmt).all()]


def read_frame(session: Session, sql: str, params: dict[str, Any] | None = None) -> pd.DataFrame:
    """Run a SELECT in the session's transaction and return a DataFrame (column names kept).

    Dates come back as ``datetime.date`` (timestamps as ``datetime``) on every backend."""
    try:
        result = session.execute(text(sql), params or {})
    except SQLAlchemyError as exc:
        raise DatabaseError(f"query failed: {exc.__class__.__name__}: {exc}") from exc
    frame = pd.DataFrame(_plain_rows(result), columns=list(result.keys()))
    if session.get_bind().dialect.name == "sqlite":
        frame = _sqlite_dates(frame)
    return frame
