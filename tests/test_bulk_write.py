"""SQLite bulk writes through a staged scratch file (models.bulk_write): the same stored values
as the per-row path, in the session's transaction, nothing left behind."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta, timezone
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from sqlalchemy import Engine, text
from sqlalchemy.orm import Session

from models import bulk_write
from models import scratch as scratch_module
from models.base import Base
from models.db import DatabaseError, bulk_insert, bulk_upsert, make_engine

_TABLE = (
    "CREATE TABLE {name} (k INTEGER PRIMARY KEY, i INTEGER, f FLOAT, n NUMERIC, s VARCHAR(20), "
    "d DATE, ts DATETIME, b BOOLEAN, o TEXT, z DATETIME, free)"
)


_COLUMNS = ("k", "i", "f", "n", "s", "d", "ts", "b", "o", "z", "free")


def _frame(n: int) -> pd.DataFrame:
    """Every kind of column the night writes: NumPy and nullable integers, floats with NaN,
    pandas and Arrow text with missing values, days and zoned or naive date-times (as
    datetime64 and as objects), booleans, and an object column of days."""
    k = np.arange(n)
    moments = pd.Series(
        [
            datetime(2026, 6, 30, 1, 2, 3, tzinfo=UTC),
            datetime(2026, 6, 30, 1, 2, 3, 456789, tzinfo=UTC),
            None,
        ]
        * (n // 3 + 1)
    ).iloc[:n]
    return pd.DataFrame(
        {
            "k": k,
            "i": pd.array(np.where(k % 5 == 0, None, k * 7), dtype="Int64"),
            "f": np.where(k % 4 == 0, np.nan, k / 3),
            "n": k * 0.5,
            "s": pd.array(np.where(k % 6 == 0, None, [f"id{v}" for v in k]), dtype="string[pyarrow]"),
            "d": pd.to_datetime(pd.Series(np.where(k % 7 == 0, None, "2026-07-01"))),
            "ts": pd.Series(pd.to_datetime(moments, utc=True).to_numpy(), dtype="datetime64[ns, UTC]"),
            "b": k % 2 == 0,
            "o": pd.Series([date(2026, 1, 1 + v % 28) if v % 3 else None for v in k], dtype=object),
            "z": pd.Series(
                [
                    datetime(2026, 6, 30, 3, 2, 3, tzinfo=timezone(timedelta(hours=2 if v % 2 else 1)))
                    for v in k.tolist()
                ],
                dtype=object,
            ),
            "free": pd.Series([f"t{v}" if v % 2 else None for v in k], dtype=object),
        }
    )


@pytest.fixture
def engine(tmp_path: Path) -> Iterator[Engine]:
    engine = make_engine(f"sqlite:///{(tmp_path / 'staged.db').as_posix()}")
    Base.metadata.create_all(engine)
    with engine.begin() as connection:
        for name in ("per_row", "staged"):
            connection.execute(text(_TABLE.format(name=name)))
    yield engine
    engine.dispose()


def _stored(engine: Engine, table: str) -> list[tuple[object, ...]]:
    columns = [*_COLUMNS]
    listed = ", ".join(f"typeof({c}), quote({c})" for c in columns)
    with engine.connect() as connection:
        return [tuple(r) for r in connection.execute(text(f"SELECT {listed} FROM {table} ORDER BY k"))]


def _write(
    engine: Engine, table: str, frame: pd.DataFrame, *, staged: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(bulk_write, "STAGED_MIN_ROWS", 1 if staged else len(frame) + 1)
    with Session(engine) as session:
        assert bulk_insert(session, table, frame, list(frame.columns)) == len(frame)
        session.commit()


def test_staged_rows_are_stored_exactly_as_the_per_row_path_stores_them(
    engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    frame = _frame(60)
    _write(engine, "per_row", frame, staged=False, monkeypatch=monkeypatch)
    _write(engine, "staged", frame, staged=True, monkeypatch=monkeypatch)
    per_row, staged = _stored(engine, "per_row"), _stored(engine, "staged")
    assert staged == per_row
    first = dict(zip(_COLUMNS, per_row[1][1::2], strict=True))
    assert first["ts"] == "'2026-06-30 01:02:03.456789+00:00'" and first["d"] == "'2026-07-01'"
    assert first["b"] == "0" and first["o"] == "'2026-01-02'" and first["free"] == "'t1'"
    assert first["z"] == "'2026-06-30 03:02:03+02:00'"  # an object date-time keeps its offset
    assert len(per_row) == 60 and {row[0] for row in per_row} == {"integer"}


def test_a_table_of_the_schema_gets_its_integer_columns_rounded_on_both_paths(
    engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A NaN makes an integer column float in pandas: bound for an INTEGER column of the
    schema, both paths round it (stored 3, not 3.0)."""
    grades = pd.DataFrame(
        {
            "country": [f"{i:02d}" for i in range(40)],
            "valid_from": [date(2026, 1, 1)] * 40,
            "category": [3.0, np.nan] * 20,
        }
    )
    for staged, country in ((False, "per_row"), (True, "staged")):
        monkeypatch.setattr(bulk_write, "STAGED_MIN_ROWS", 1 if staged else 1000)
        with Session(engine) as session:
            bulk_insert(
                session,
                "country_grade",
                grades.assign(country=country + grades["country"]),
                list(grades.columns),
            )
            session.commit()
    with engine.connect() as connection:
        kinds = connection.execute(
            text(
                "SELECT substr(country, 1, length(country) - 2), typeof(category), count(*) FROM country_grade GROUP BY 1, 2 ORDER BY 1, 2"
            )
        ).all()
    assert [tuple(k) for k in kinds] == [
        ("per_row", "integer", 20),
        ("per_row", "null", 20),
        ("staged", "integer", 20),
        ("staged", "null", 20),
    ]


def test_a_staged_upsert_updates_by_key_and_the_last_repeated_row_wins(
    engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(bulk_write, "STAGED_MIN_ROWS", 1)
    columns = ["country", "valid_from", "category"]
    first = pd.DataFrame({"country": ["FR", "BR"], "valid_from": [date(2022, 3, 11)] * 2, "category": [1, 4]})
    again = pd.DataFrame(
        {"country": ["BR", "BR", "DE"], "valid_from": [date(2022, 3, 11)] * 3, "category": [5, 6, 2]}
    )
    with Session(engine) as session:
        bulk_insert(session, "country_grade", first, columns)
        assert bulk_upsert(session, "country_grade", again, columns, key=["country", "valid_from"]) == 2
        session.commit()
    with engine.connect() as connection:
        rows = connection.execute(text("SELECT country, category FROM country_grade ORDER BY country")).all()
    assert [tuple(r) for r in rows] == [("BR", 6), ("DE", 2), ("FR", 1)]


def _scratch_files(folder: Path) -> list[Path]:
    return sorted(folder.glob("vigie-stage-*"))


def test_staged_rows_roll_back_with_the_transaction_and_leave_no_file_or_attachment(
    engine: Engine, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    scratch = tmp_path / "scratch"
    scratch.mkdir()
    monkeypatch.setattr(scratch_module, "folder", lambda: scratch)
    monkeypatch.setattr(bulk_write, "STAGED_MIN_ROWS", 1)
    frame = _frame(30)
    with Session(engine) as session:
        bulk_insert(session, "staged", frame, list(frame.columns))
        assert _scratch_files(scratch) == []  # removed once attached: the open handle reads it
        attached = [r[1] for r in session.execute(text("PRAGMA database_list"))]
        assert [name for name in attached if name.startswith("vigie_stage_")] != []
        assert session.execute(text("SELECT count(*) FROM staged")).scalar() == 30
        session.rollback()
    with engine.connect() as connection:
        assert connection.execute(text("SELECT count(*) FROM staged")).scalar() == 0
        # the pool's connection came back with its scratch database detached
        assert [r[1] for r in connection.execute(text("PRAGMA database_list"))] in (
            ["main"],
            ["main", "temp"],
        )
    assert _scratch_files(scratch) == []


def test_more_staged_writes_than_attachments_allowed_in_one_transaction_all_land(
    engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    """SQLite attaches at most ten databases: past the limit the rows go through the per-row
    path, in the same transaction."""
    monkeypatch.setattr(bulk_write, "STAGED_MIN_ROWS", 1)
    frame = _frame(12)
    with Session(engine) as session:
        for chunk in range(bulk_write.STAGES_PER_CONNECTION + 3):
            bulk_insert(session, "staged", frame.assign(k=frame["k"] + 100 * chunk), list(frame.columns))
        session.commit()
    with engine.connect() as connection:
        assert connection.execute(text("SELECT count(*) FROM staged")).scalar() == 12 * (
            bulk_write.STAGES_PER_CONNECTION + 3
        )


def test_a_column_of_mixed_python_types_is_stored_value_by_value(
    engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Arrow holds one type per column; the sqlite3 module stores 3 as INTEGER and 3.5 as REAL
    in a column without affinity. Such a frame goes through the per-row path, unchanged."""
    monkeypatch.setattr(bulk_write, "STAGED_MIN_ROWS", 1)
    frame = pd.DataFrame({"k": [1, 2, 3], "free": pd.Series([3, 3.5, "x"], dtype=object)})
    assert bulk_write.sqlite_columns(frame, ["k", "free"], "staged") is None
    with Session(engine) as session:
        bulk_insert(session, "staged", frame, ["k", "free"])
        session.commit()
    with engine.connect() as connection:
        kinds = connection.execute(text("SELECT typeof(free) FROM staged ORDER BY k")).scalars().all()
    assert kinds == ["integer", "real", "text"]


def test_a_staged_write_that_breaks_a_constraint_names_the_table_and_leaves_nothing(
    engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(bulk_write, "STAGED_MIN_ROWS", 1)
    frame = pd.DataFrame({"country": ["FR", "FR"], "valid_from": [date(2022, 1, 1)] * 2, "category": [1, 2]})
    with Session(engine) as session:
        with pytest.raises(DatabaseError, match="bulk write into country_grade failed: UNIQUE constraint"):
            bulk_insert(session, "country_grade", frame, list(frame.columns))
        session.rollback()
    with engine.connect() as connection:
        assert connection.execute(text("SELECT count(*) FROM country_grade")).scalar() == 0


def test_the_write_ahead_log_stays_with_the_database_through_staged_writes(
    engine: Engine, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """The staging driver has its own SQLite: it must never open the database itself (its
    closing would drop this process's locks and delete the log under the session)."""
    monkeypatch.setattr(bulk_write, "STAGED_MIN_ROWS", 1)
    frame = _frame(30)
    with Session(engine) as session:
        bulk_insert(session, "staged", frame, list(frame.columns))
        session.flush()
        log = tmp_path / "staged.db-wal"
        assert log.exists()
        session.commit()
        bulk_insert(session, "staged", frame.assign(k=frame["k"] + 100), list(frame.columns))
        session.commit()
        assert log.exists()
        later = sqlite3.connect(tmp_path / "staged.db")
        assert later.execute("SELECT count(*) FROM staged").fetchone() == (60,)
        later.close()


def _indexes(engine: Engine, table: str) -> list[tuple[str, str]]:
    with engine.connect() as connection:
        found = connection.execute(
            text("SELECT name, sql FROM sqlite_master WHERE type = 'index' AND tbl_name = :t ORDER BY name"),
            {"t": table},
        )
        return [tuple(r) for r in found]


def _traced(session: Session) -> list[str]:
    statements: list[str] = []
    session.connection().connection.dbapi_connection.set_trace_callback(statements.append)  # type: ignore[union-attr]
    return statements


def test_an_empty_table_is_filled_first_then_indexed_and_keeps_its_indexes(
    engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A bulk load into an empty table drops its plain indexes, fills it, builds them again,
    all in the transaction; a unique index stays (it enforces the rows); a table with rows
    keeps its indexes through the insert."""
    monkeypatch.setattr(bulk_write, "STAGED_MIN_ROWS", 1)
    with engine.begin() as connection:
        connection.execute(text("CREATE INDEX ix_staged_s ON staged (s)"))
        connection.execute(text("CREATE INDEX ix_staged_d_f ON staged (d, f) WHERE f IS NOT NULL"))
        connection.execute(text("CREATE UNIQUE INDEX ux_staged_free ON staged (free)"))
    before = _indexes(engine, "staged")
    frame = _frame(40).assign(free=[f"t{v}" for v in range(40)])
    with Session(engine) as session:
        statements = _traced(session)
        bulk_insert(session, "staged", frame, list(frame.columns))
        dropped = sorted(s for s in statements if s.startswith("DROP INDEX"))
        assert dropped == ["DROP INDEX ix_staged_d_f", "DROP INDEX ix_staged_s"]  # not the unique one
        session.rollback()  # the indexes come back with the rollback
        assert _indexes(engine, "staged") == before
        statements.clear()
        bulk_insert(session, "staged", frame, list(frame.columns))
        session.commit()
        assert _indexes(engine, "staged") == before
        statements = _traced(session)
        bulk_insert(
            session, "staged", frame.assign(k=frame["k"] + 100, free=frame["free"] + "b"), list(frame.columns)
        )
        assert not [s for s in statements if s.startswith("DROP INDEX")]  # rows there: kept
        session.commit()
    with engine.connect() as connection:
        assert connection.execute(text("PRAGMA integrity_check")).scalar() == "ok"
        plan = " ".join(
            str(r[-1])
            for r in connection.execute(text("EXPLAIN QUERY PLAN SELECT k FROM staged WHERE s = 'id7'"))
        )
        assert "ix_staged_s" in plan
        assert connection.execute(
            text("SELECT k FROM staged WHERE s = 'id7' ORDER BY k")
        ).scalars().all() == [7, 107]


def test_a_unique_index_of_an_empty_table_still_refuses_a_repeated_key(
    engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(bulk_write, "STAGED_MIN_ROWS", 1)
    with engine.begin() as connection:
        connection.execute(text("CREATE UNIQUE INDEX ux_staged_free ON staged (free)"))
    frame = _frame(4).assign(free=["same"] * 4)
    with Session(engine) as session:
        with pytest.raises(DatabaseError, match=r"UNIQUE constraint failed: staged\.free"):
            bulk_insert(session, "staged", frame, list(frame.columns))
        session.rollback()


def test_a_staging_failure_names_the_table_the_rows_and_the_file(
    engine: Engine, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """The driver's own error (here: a folder where the scratch database should be) comes out
    as a DatabaseError saying what was being staged, and nothing is written."""
    monkeypatch.setattr(bulk_write, "STAGED_MIN_ROWS", 1)
    real_ingest = bulk_write._ingest
    monkeypatch.setattr(bulk_write, "_ingest", lambda path, arrow: real_ingest(str(tmp_path), arrow))
    frame = _frame(5)
    with Session(engine) as session:
        with pytest.raises(
            DatabaseError, match=r"staging 5 rows for staged in .*vigie-stage-\d+-.* failed: "
        ):
            bulk_insert(session, "staged", frame, list(frame.columns))
        session.rollback()
    with engine.connect() as connection:
        assert connection.execute(text("SELECT count(*) FROM staged")).scalar() == 0


def test_the_scratch_rows_of_a_process_that_is_gone_are_swept_and_no_others(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """A night killed while staging or reading leaves its scratch file (its name carries the
    process id); the next night removes those of dead processes only."""
    shared, temporary = tmp_path / "shm", tmp_path / "tmp"
    shared.mkdir()
    temporary.mkdir()
    monkeypatch.setattr(scratch_module, "SHARED_MEMORY", shared)
    monkeypatch.setattr(tempfile, "tempdir", str(temporary))
    gone = subprocess.Popen([sys.executable, "-c", "pass"])
    gone.wait()
    left_stage = shared / f"vigie-stage-{gone.pid}-abc.db"
    left_stage.write_bytes(b"rows")
    left_read = temporary / f"vigie-read-{gone.pid}-def"
    left_read.mkdir()
    (left_read / "rows.arrow").write_bytes(b"rows")
    mine = shared / f"{scratch_module.prefix('stage')}ghi.db"
    mine.write_bytes(b"rows")
    other = shared / "vigie-stage-notes.txt"
    other.write_text("not a scratch file")
    assert sorted(scratch_module.sweep()) == sorted([left_stage, left_read])
    assert not left_stage.exists() and not left_read.exists()
    assert mine.exists() and other.exists()


def test_a_scratch_file_that_cannot_be_removed_is_named_and_the_sweep_goes_on(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """Another user's leftover (root removes anything, so the refusal is simulated): named in
    the log, not reported removed, and the night is not stopped by it."""
    shared = tmp_path / "shm"
    shared.mkdir()
    monkeypatch.setattr(scratch_module, "SHARED_MEMORY", shared)
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path / "none"))
    gone = subprocess.Popen([sys.executable, "-c", "pass"])
    gone.wait()
    theirs = shared / f"vigie-stage-{gone.pid}-abc.db"
    theirs.write_bytes(b"rows")

    def refuse(self: Path, missing_ok: bool = False) -> None:
        raise PermissionError(1, "Operation not permitted", str(self))

    monkeypatch.setattr(Path, "unlink", refuse)
    assert scratch_module.sweep() == []
    assert theirs.exists() and "cannot remove" in caplog.text and "Operation not permitted" in caplog.text
