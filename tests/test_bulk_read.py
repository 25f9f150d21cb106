"""Bulk reads (models.bulk_read): the same frame as read_frame, and only when a second
connection sees what the session sees."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from datetime import date, datetime
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pytest
from sqlalchemy import text
from sqlalchemy.orm import Session

from models import bulk_read, scratch
from models.base import Base
from models.bulk_read import _committed_sqlite_file, read_arrow, read_bulk
from models.db import DatabaseError, bulk_insert, make_engine, read_frame

UPDATED_AT = datetime(2026, 6, 30, 1, 2, 3)
BUYER_COLUMNS = ["buyer_id", "name", "country", "status", "is_natural_person", "creation_date", "updated_at"]


def _buyers() -> pd.DataFrame:
    """Buyers with a missing value in every nullable column read back, a quote in a name, a
    missing date first (connectorx types columns by their declaration, not their first value)."""
    return pd.DataFrame(
        {
            "buyer_id": ["B1", "B2", "B3", "B4"],
            "name": ["L'Atelier", "Beta", "Gamma", "Delta"],
            "country": ["FR", "FR", "DE", "FR"],
            "naf_code": [None, "4711D", "2511Z", None],
            "status": ["A", "A", "C", "A"],
            "is_natural_person": [False, True, False, False],
            "creation_date": [None, date(2001, 2, 3), date(1999, 12, 31), None],
            "updated_at": [UPDATED_AT] * 4,
        }
    )


def _financials() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "buyer_id": ["B1", "B1", "B2"],
            "fiscal_year_end": [date(2024, 12, 31), date(2025, 12, 31), date(2025, 6, 30)],
            "filed_date": [date(2025, 4, 30), None, date(2025, 10, 1)],
            "revenue_cents": [100, 200, None],
        }
    )


@pytest.fixture
def filled(session: Session) -> Session:
    bulk_insert(session, "buyer", _buyers(), [*BUYER_COLUMNS, "naf_code"])
    bulk_insert(session, "buyer_financials", _financials(), list(_financials().columns))
    session.commit()
    return session


QUERIES = [
    (
        "SELECT buyer_id, name, naf_code, status, is_natural_person, creation_date, updated_at FROM buyer ORDER BY buyer_id",
        {},
    ),
    ("SELECT buyer_id, name FROM buyer WHERE name = :name", {"name": "L'Atelier"}),
    (
        "SELECT buyer_id, fiscal_year_end, filed_date, revenue_cents FROM buyer_financials "
        "WHERE fiscal_year_end <= :d ORDER BY buyer_id, fiscal_year_end",
        {"d": date(2025, 12, 31)},
    ),
    ("SELECT buyer_id FROM buyer WHERE is_natural_person = :yes", {"yes": True}),
    ("SELECT buyer_id FROM buyer WHERE updated_at = :t ORDER BY buyer_id", {"t": UPDATED_AT}),
    ("SELECT buyer_id, creation_date FROM buyer WHERE buyer_id = 'none'", {}),
]


@pytest.mark.parametrize(("sql", "params"), QUERIES)
def test_the_bulk_frame_is_the_frame_read_frame_returns(filled: Session, sql: str, params: dict) -> None:
    expected = read_frame(filled, sql, params)
    found = read_bulk(filled, sql, params)
    if expected.empty:
        assert found.empty and list(found.columns) == list(expected.columns)
    else:
        pd.testing.assert_frame_equal(found, expected)


def test_parameters_are_bound_as_literals_that_select_the_right_rows(filled: Session) -> None:
    found = read_bulk(filled, "SELECT buyer_id FROM buyer WHERE name = :name", {"name": "L'Atelier"})
    assert found["buyer_id"].tolist() == ["B1"]
    dated = read_bulk(
        filled, "SELECT buyer_id FROM buyer_financials WHERE filed_date <= :d", {"d": date(2025, 5, 1)}
    )
    assert dated["buyer_id"].tolist() == ["B1"]
    natural = read_bulk(filled, "SELECT buyer_id FROM buyer WHERE is_natural_person = :yes", {"yes": True})
    assert natural["buyer_id"].tolist() == ["B2"]
    stamped = read_bulk(filled, "SELECT buyer_id FROM buyer WHERE updated_at = :t", {"t": UPDATED_AT})
    assert len(stamped) == 4  # a date-time bound as the text it was stored as


def test_uncommitted_rows_of_the_session_are_read(filled: Session) -> None:
    """A second connection would not see them: the session's own connection is used."""
    filled.execute(text("UPDATE buyer SET status = 'F' WHERE buyer_id = 'B1'"))
    found = read_bulk(filled, "SELECT buyer_id, status FROM buyer WHERE buyer_id = 'B1'")
    assert found["status"].tolist() == ["F"]
    filled.rollback()
    assert read_bulk(filled, "SELECT status FROM buyer WHERE buyer_id = 'B1'")["status"].tolist() == ["A"]


def test_a_bad_query_names_the_cause(filled: Session) -> None:
    with pytest.raises(DatabaseError, match=r"query failed.*no_such_table"):
        read_bulk(filled, "SELECT buyer_id FROM no_such_table")


def test_only_a_sqlite_file_with_nothing_pending_is_read_through_a_second_connection(tmp_path: Path) -> None:
    folder = tmp_path / "work dir é"  # a space and an accent: the file's address is URL-quoted
    engine = make_engine(f"sqlite:///{(folder / 'bulk.db').as_posix()}")
    Base.metadata.create_all(engine)
    with Session(engine) as session:
        bulk_insert(session, "buyer", _buyers(), [*BUYER_COLUMNS, "naf_code"])
        assert _committed_sqlite_file(session) is None  # the insert is not committed yet
        session.commit()
        assert _committed_sqlite_file(session) == (folder / "bulk.db").resolve()
        assert read_bulk(session, "SELECT COUNT(*) AS n FROM buyer")["n"].tolist() == [4]
    memory = make_engine("sqlite://")
    Base.metadata.create_all(memory)
    with Session(memory) as session:
        assert _committed_sqlite_file(session) is None
    engine.dispose()
    memory.dispose()


def test_the_arrow_table_holds_the_rows_on_both_paths(filled: Session) -> None:
    """Read in bulk (committed) and through the session (an uncommitted change pending): same
    Arrow types for text and whole numbers, and the session's own change is seen."""
    sql = "SELECT buyer_id, revenue_cents FROM buyer_financials WHERE revenue_cents IS NOT NULL ORDER BY buyer_id, revenue_cents"
    committed = read_arrow(filled, sql)
    filled.execute(text("UPDATE buyer_financials SET revenue_cents = 300 WHERE revenue_cents = 200"))
    pending = read_arrow(filled, sql)
    assert committed.schema == pending.schema
    assert pa.types.is_string(committed.schema.field("buyer_id").type) or pa.types.is_large_string(
        committed.schema.field("buyer_id").type
    )
    assert committed.column("revenue_cents").to_pylist() == [100, 200]
    assert pending.column("revenue_cents").to_pylist() == [100, 300]
    filled.rollback()


def test_a_bulk_read_leaves_the_write_ahead_log_of_the_open_connections_in_place(tmp_path: Path) -> None:
    """connectorx brings its own SQLite, which cannot see the locks of this process's own
    connections: read in this process, its close deleted the log under them, later commits went
    to a deleted file and a connection opened afterwards met "disk I/O error"."""
    path = tmp_path / "night.db"
    engine = make_engine(f"sqlite:///{path.as_posix()}")
    Base.metadata.create_all(engine)
    holder = sqlite3.connect(path)  # an open connection with rows still only in the log
    holder.execute("PRAGMA wal_autocheckpoint=0")
    holder.execute("INSERT INTO country_grade (country, valid_from, category) VALUES ('FR', '2026-01-01', 0)")
    holder.commit()
    with Session(engine) as session:
        assert read_bulk(session, "SELECT country FROM country_grade")["country"].tolist() == ["FR"]
    assert (tmp_path / "night.db-wal").exists() and (tmp_path / "night.db-shm").exists()
    holder.execute("INSERT INTO country_grade (country, valid_from, category) VALUES ('DE', '2026-01-01', 0)")
    holder.commit()
    later = sqlite3.connect(path)
    assert later.execute("SELECT count(*) FROM country_grade").fetchone() == (2,)
    later.close()
    holder.close()
    engine.dispose()


COUNT = "SELECT COUNT(*) AS n FROM buyer"


@pytest.fixture
def committed(tmp_path: Path) -> Iterator[Session]:
    """A session on a SQLite file holding four committed buyers, read once in bulk (so the
    reader process runs)."""
    engine = make_engine(f"sqlite:///{(tmp_path / 'bulk.db').as_posix()}")
    Base.metadata.create_all(engine)
    with Session(engine) as session:
        bulk_insert(session, "buyer", _buyers(), [*BUYER_COLUMNS, "naf_code"])
        session.commit()
        assert read_bulk(session, COUNT)["n"].tolist() == [4]
        yield session
    engine.dispose()


def test_a_reader_process_that_stopped_is_named_then_replaced(committed: Session) -> None:
    reader = bulk_read._READERS[0].process
    reader.kill()
    reader.wait()
    with pytest.raises(DatabaseError, match="bulk reader process stopped"):
        read_bulk(committed, COUNT)
    assert read_bulk(committed, COUNT)["n"].tolist() == [4]  # read by a new reader process
    assert bulk_read._READERS[0].process.pid != reader.pid


def test_a_reply_out_of_step_stops_the_reader_rather_than_being_taken_for_the_rows(
    committed: Session, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Each answer names the file it wrote: a stray or stale line is never read as the rows of
    another request; the reader is ended and the next read starts another. With too little
    shared memory the rows go through the system's temporary folder."""
    reader = bulk_read._READERS[0]
    real_readline = reader.process.stdout.readline  # type: ignore[union-attr]
    stale = iter(['{"ok": true, "out": "/elsewhere/rows.arrow"}\n'])
    monkeypatch.setattr(reader.process.stdout, "readline", lambda: next(stale, "") or real_readline())
    with pytest.raises(DatabaseError, match="bulk reader process stopped"):
        read_bulk(committed, COUNT)
    assert reader.process.returncode is not None  # ended and reaped
    monkeypatch.setattr(scratch, "SHARED_MEMORY_NEEDED", 2**62)
    assert scratch.folder() is None
    assert read_bulk(committed, COUNT)["n"].tolist() == [4]  # a new reader, the temporary folder


def _scratch(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    folder = tmp_path / "scratch"
    folder.mkdir()
    monkeypatch.setattr(scratch, "folder", lambda: folder)
    return folder


def test_a_read_sent_ahead_is_taken_by_the_same_read_later(
    committed: Session, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """The reader reads while this process works on; the later read of the same query takes
    those rows (as they were when sent ahead: the caller's word is that nothing commits to
    them in between), and only once."""
    scratch = _scratch(monkeypatch, tmp_path)
    with bulk_read.reads_ahead():
        bulk_read.prefetch(committed, COUNT)
        for ahead in bulk_read._PREFETCHED.values():
            ahead.answer.result()  # read by now (else the delete below could come first)
        committed.execute(text("DELETE FROM buyer WHERE buyer_id = 'B4'"))
        committed.commit()
        assert read_bulk(committed, COUNT)["n"].tolist() == [4]  # read ahead, before the delete
        assert read_bulk(committed, COUNT)["n"].tolist() == [3]  # read now
        assert list(scratch.iterdir()) == []


def test_a_read_sent_ahead_that_no_one_takes_is_dropped_with_its_file(
    committed: Session, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    scratch = _scratch(monkeypatch, tmp_path)
    with bulk_read.reads_ahead():
        bulk_read.prefetch(committed, COUNT)
        bulk_read.prefetch(committed, "SELECT buyer_id FROM buyer")
        assert len(list(scratch.iterdir())) == 2
    assert list(scratch.iterdir()) == [] and bulk_read._PREFETCHED == {}
    assert read_bulk(committed, COUNT)["n"].tolist() == [4]  # read afresh


def test_a_read_sent_ahead_that_failed_fails_the_read_that_takes_it(committed: Session) -> None:
    with bulk_read.reads_ahead():
        bulk_read.prefetch(committed, "SELECT no_such_column FROM buyer")
        with pytest.raises(DatabaseError, match=r"query failed: .*no_such_column"):
            read_bulk(committed, "SELECT no_such_column FROM buyer")


def test_nothing_is_sent_ahead_while_the_session_holds_uncommitted_rows(committed: Session) -> None:
    """A second connection would not see them: the read is then done through the session."""
    committed.execute(text("DELETE FROM buyer WHERE buyer_id = 'B4'"))
    with bulk_read.reads_ahead():
        bulk_read.prefetch(committed, COUNT)
        assert bulk_read._PREFETCHED == {}
        assert read_bulk(committed, COUNT)["n"].tolist() == [3]


def test_a_read_sent_ahead_is_read_again_when_an_arbiter_changed_something_since(
    committed: Session, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """The night's guard: every arbiter's change writes an audit-log row. One written after
    the read was sent (here with a buyer deleted) makes the later read read again; without it
    the rows read ahead are taken."""
    _scratch(monkeypatch, tmp_path)
    with bulk_read.reads_ahead():
        bulk_read.prefetch(committed, COUNT, guard=bulk_read.CHANGES_BY_ARBITERS)
        for ahead in bulk_read._PREFETCHED.values():
            ahead.answer.result()
        committed.execute(text("DELETE FROM buyer WHERE buyer_id = 'B4'"))
        committed.execute(
            text(
                "INSERT INTO audit_log (at, actor, action, entity, entity_id, before, after, reason) "
                "VALUES ('2026-06-30 10:00:00', 'arbitre', 'change_limit', 'credit_limit', '1', '{}', '{}', 'x')"
            )
        )
        committed.commit()
        assert read_bulk(committed, COUNT)["n"].tolist() == [3]  # read again, not the rows sent ahead
        assert bulk_read._PREFETCHED == {}
        bulk_read.prefetch(committed, COUNT, guard=bulk_read.CHANGES_BY_ARBITERS)
        for ahead in bulk_read._PREFETCHED.values():
            ahead.answer.result()
        committed.execute(text("DELETE FROM buyer WHERE buyer_id = 'B3'"))  # no audit row: the night's own
        committed.commit()
        assert read_bulk(committed, COUNT)["n"].tolist() == [3]  # taken as read ahead
