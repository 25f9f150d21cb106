"""Migrations, readiness checks and the bulk-write helpers, on SQLite and PostgreSQL."""

from __future__ import annotations

import sqlite3
from datetime import UTC, date, datetime, timedelta, timezone
from pathlib import Path

import pandas as pd
import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect, select, text
from sqlalchemy.orm import Session

from models.base import Base
from models.country_grade import CountryGrade
from models.db import (
    DatabaseError,
    alembic_config,
    bulk_insert,
    bulk_upsert,
    check_ready,
    frame_rows,
    hold_write_lock,
    make_engine,
    read_frame,
    upgrade,
)
from tests.arbitration.portfolio import seed_portfolio


def test_upgrade_creates_every_table_and_is_repeatable(db_url: str) -> None:
    engine = make_engine(db_url)
    upgrade(engine)
    upgrade(engine)
    check_ready(engine)
    tables = set(inspect(engine).get_table_names())
    assert set(Base.metadata.tables) <= tables
    engine.dispose()


def test_migrations_match_the_models(db_url: str) -> None:
    """A model changed without its migration would make `vigie db upgrade` build another schema."""
    engine = make_engine(db_url)
    upgrade(engine)
    with engine.connect() as connection:
        diff = compare_metadata(MigrationContext.configure(connection), Base.metadata)
    engine.dispose()
    assert diff == []


def test_a_database_without_schema_is_reported_with_the_fix(db_url: str) -> None:
    engine = make_engine(db_url)
    with pytest.raises(DatabaseError, match="vigie db upgrade"):
        check_ready(engine)
    engine.dispose()


def test_an_unreachable_server_is_named() -> None:
    engine = make_engine("postgresql+psycopg://nobody@127.0.0.1:1/none")
    with pytest.raises(DatabaseError, match=r"unreachable.*VIGIE_DATABASE__URL"):
        check_ready(engine)


def test_an_unwritable_work_directory_is_named(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    with pytest.raises(DatabaseError, match="VIGIE_WORKDIR"):
        make_engine(f"sqlite:///{blocker}/sub/vigie.db")


def test_sqlite_connections_wait_write_ahead_and_sort_in_two_threads(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'v.db'}")
    with engine.connect() as connection:
        pragma = {name: connection.exec_driver_sql(f"PRAGMA {name}").scalar() for name in
                  ("journal_mode", "busy_timeout", "threads", "foreign_keys")}  # fmt: skip
    engine.dispose()
    assert pragma == {"journal_mode": "wal", "busy_timeout": 30000, "threads": 2, "foreign_keys": 1}


def test_bulk_upsert_inserts_then_updates_by_key(session) -> None:  # type: ignore[no-untyped-def]
    frame = pd.DataFrame(
        {
            "country": ["FR", "BR"],
            "valid_from": pd.to_datetime(["2022-03-11", "2022-03-11"]),
            "category": [None, 4],
        }
    )
    columns = ["country", "valid_from", "category"]
    assert bulk_insert(session, "country_grade", frame, columns) == 2
    changed = frame.assign(category=[None, 5])
    bulk_upsert(session, "country_grade", changed, columns, key=["country", "valid_from"])
    session.commit()
    rows = {g.country: g.category for g in session.execute(select(CountryGrade)).scalars()}
    assert rows == {"FR": None, "BR": 5}
    read = read_frame(session, "SELECT country, valid_from FROM country_grade ORDER BY country")
    assert list(read["country"]) == ["BR", "FR"]
    assert read["valid_from"].iloc[0] == date(2022, 3, 11)


def test_a_failed_bulk_write_leaves_nothing(session) -> None:  # type: ignore[no-untyped-def]
    frame = pd.DataFrame({"country": ["FR", "FR"], "valid_from": [date(2022, 1, 1)] * 2, "category": [1, 2]})
    with pytest.raises(DatabaseError, match="country_grade"):
        bulk_insert(session, "country_grade", frame, ["country", "valid_from", "category"])
    session.rollback()
    assert session.execute(select(CountryGrade)).first() is None


def test_bulk_upsert_keeps_the_last_row_of_a_repeated_key(session) -> None:  # type: ignore[no-untyped-def]
    frame = pd.DataFrame(
        {"country": ["FR", "FR", "BR"], "valid_from": [date(2022, 1, 1)] * 3, "category": [1, 2, 3]}
    )
    written = bulk_upsert(
        session, "country_grade", frame, ["country", "valid_from", "category"], key=["country", "valid_from"]
    )
    session.commit()
    assert written == 2
    rows = {g.country: g.category for g in session.execute(select(CountryGrade)).scalars()}
    assert rows == {"FR": 2, "BR": 3}


def test_dates_come_back_as_dates_on_both_backends_and_text_stays_text(session) -> None:  # type: ignore[no-untyped-def]
    """SQLite returns dates as ISO text: read_frame turns a whole date column into ``date``
    objects (timestamps into ``datetime``), as PostgreSQL's driver does, and leaves text alone,
    including a text column whose first values look like dates and a later one does not."""
    n = 120
    buyers = pd.DataFrame(
        {
            "buyer_id": [f"B{i:04d}" for i in range(n)],
            "name": ["2026-07-01"] * (n - 1) + ["Not a date SARL"],
            "country": "FR",
            "creation_date": [date(2000, 1, 1 + i % 28) for i in range(n - 1)] + [None],
            "updated_at": [datetime(2026, 7, 1, 10, 30)] * n,
            "status": "A",
            "is_natural_person": False,
        }
    )
    bulk_insert(session, "buyer", buyers, list(buyers.columns))
    read = read_frame(
        session, "SELECT buyer_id, name, creation_date, updated_at FROM buyer ORDER BY buyer_id"
    )
    assert read["creation_date"].iloc[5] == date(2000, 1, 6) and pd.isna(read["creation_date"].iloc[-1])
    assert isinstance(read["updated_at"].iloc[0], datetime)
    assert read["updated_at"].iloc[0].replace(tzinfo=None) == datetime(2026, 7, 1, 10, 30)
    assert read["name"].iloc[0] == "2026-07-01" and read["name"].iloc[-1] == "Not a date SARL"
    assert read["buyer_id"].iloc[0] == "B0000"


def test_dates_are_written_to_sqlite_as_the_text_its_own_adapters_write(tmp_path: Path) -> None:
    """Bulk writes hand SQLite dates as ISO text (converted once per distinct value): the
    stored text must be what the sqlite3 module's adapters store for the same values."""
    engine = make_engine(f"sqlite:///{(tmp_path / 'dates.db').as_posix()}")
    with engine.begin() as connection:
        connection.execute(text("CREATE TABLE t (k INTEGER, d DATE, ts DATETIME, n TEXT)"))
    moments = [
        datetime(2026, 6, 30, 1, 2, 3, tzinfo=UTC),
        datetime(2026, 6, 30, 1, 2, 3, 456789),
        None,
        datetime(2026, 6, 30, 3, 2, 3, tzinfo=timezone(timedelta(hours=2))),  # the first instant
    ]
    frame = pd.DataFrame(
        {
            "k": [1, 2, 3, 4],
            "d": [date(2026, 6, 30), None, date(2026, 6, 30), date(2026, 7, 1)],
            "ts": moments,
            "n": ["a", None, "c", "d"],
        },
        dtype=object,
    )
    with Session(engine) as session:
        bulk_insert(session, "t", frame, ["k", "d", "ts", "n"])
        session.commit()
    raw = sqlite3.connect(tmp_path / "dates.db")
    raw.executemany(
        "INSERT INTO t VALUES (?, ?, ?, ?)",
        [(k + 10, d, ts, n) for k, d, ts, n in frame.itertuples(index=False)],
    )
    written = raw.execute("SELECT d, ts, n, typeof(d), typeof(ts) FROM t WHERE k < 10 ORDER BY k").fetchall()
    adapted = raw.execute("SELECT d, ts, n, typeof(d), typeof(ts) FROM t WHERE k > 10 ORDER BY k").fetchall()
    raw.close()
    engine.dispose()
    assert written == adapted
    assert written[0][:2] == ("2026-06-30", "2026-06-30 01:02:03+00:00")
    assert written[3][1] == "2026-06-30 03:02:03+02:00"  # the same instant, its own offset kept
    # the rows handed to the driver hold the days and date-times as text already
    rows = frame_rows(frame, ["k", "d", "ts"], iso_dates=True)
    assert rows[0] == (1, "2026-06-30", "2026-06-30 01:02:03+00:00")
    assert rows[1] == (2, None, "2026-06-30 01:02:03.456789")
    # a time-zone-aware column (what pandas makes of one run's time stamp) takes the same text
    stamped = pd.DataFrame({"ts": pd.Series([moments[0], None, moments[0]], dtype="datetime64[ns, UTC]")})
    assert [r[0] for r in frame_rows(stamped, ["ts"], iso_dates=True)] == [written[0][1], None, written[0][1]]


_SCORES = (
    "INSERT INTO score (buyer_id, as_of, role, pd_12m, grade, rating, model_name, model_version, "
    "reason_codes, run_id) VALUES (:b, :d, :r, 0.01, :g, 'A', 'm', '1', '', NULL)"
)
_AGGREGATES = (
    "INSERT INTO payment_aggregate (buyer_id, as_of, invoices, amount_cents, days_beyond_terms, "
    "overdue_share, overdue_declarations, dbt_trend_3m, dbt_trend_12m, reporting_policyholders) "
    "VALUES (:b, :d, :g, 100, 1.5, 0.1, 0, NULL, 2.0, 1)"
)


@pytest.mark.parametrize(
    ("revision", "table", "insert", "stored", "old_key", "new_key"),
    [
        (
            "0004",
            "score",
            _SCORES,
            "SELECT buyer_id, as_of, role, grade FROM score ORDER BY buyer_id, as_of, role",
            ["buyer_id", "as_of", "role"],
            ["as_of", "role", "buyer_id"],
        ),
        (
            "0005",
            "payment_aggregate",
            _AGGREGATES,
            "SELECT buyer_id, as_of, invoices, dbt_trend_3m, dbt_trend_12m FROM payment_aggregate "
            "ORDER BY buyer_id, as_of",
            ["buyer_id", "as_of"],
            ["as_of", "buyer_id"],
        ),
    ],
)
def test_a_history_key_migration_keeps_every_row_both_ways(
    db_url: str, revision: str, table: str, insert: str, stored: str, old_key: list[str], new_key: list[str]
) -> None:
    """0004 and 0005 re-key ``score`` and ``payment_aggregate`` by date (SQLite: a copy into a
    new table) and back, every row and value kept."""
    engine = make_engine(db_url)
    before_revision = f"{int(revision) - 1:04d}"
    upgrade(engine, before_revision)
    rows = [
        {"b": b, "d": d, "r": r, "g": g}
        for g, (b, d, r) in enumerate(
            [
                ("B1", date(2026, 6, 30), "champion"),
                ("B1", date(2026, 7, 1), "champion"),
                ("B2", date(2026, 7, 1), "challenger"),
            ],
            start=1,
        )
    ]
    with engine.begin() as connection:
        connection.execute(text(insert), rows)
    with engine.connect() as connection:
        before = connection.execute(text(stored)).all()
    upgrade(engine, revision)
    assert inspect(engine).get_pk_constraint(table)["constrained_columns"] == new_key
    with engine.connect() as connection:
        assert connection.execute(text(stored)).all() == before
    config = alembic_config(engine.url.render_as_string(hide_password=False))
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        command.downgrade(config, before_revision)
    fresh = make_engine(db_url)  # a new engine: no cached reflection of the re-keyed table
    assert inspect(fresh).get_pk_constraint(table)["constrained_columns"] == old_key
    with fresh.connect() as connection:
        assert connection.execute(text(stored)).all() == before
    fresh.dispose()
    engine.dispose()


def test_0007_gives_a_referred_decision_the_request_its_limit_still_holds(db_url: str) -> None:
    """A referred decision was not applied: its limit still holds the request it answers. An
    applied one's request is gone (the limit may hold a newer one): NULL."""
    engine = make_engine(db_url)
    upgrade(engine, "0006")
    with Session(engine) as session:
        seed_portfolio(session)  # limit 11 asks for 40,000 EUR (a new limit)
        session.commit()
    decision = (
        "INSERT INTO decision (limit_id, business_date, policy_id, buyer_id, policyholder_id, decision_type, "
        "reason_code, previous_cents, proposed_cents, status, four_eyes, effective_date, rule_set_version, "
        "fired_rules, observed, notified, version, created_at) VALUES (:limit, :d, 'P1', '100000006', 'PH1', "
        "5, 15, 0, 100, :status, :no, :d, 'v', '[]', '{}', :no, 1, :d)"
    )
    with engine.begin() as connection:
        for limit, status in ((11, "referred"), (11, "applied")):
            day = date(2026, 11, 23) if status == "referred" else date(2026, 11, 22)
            connection.execute(text(decision), {"limit": limit, "d": day, "status": status, "no": False})
    upgrade(engine, "0007")
    with engine.connect() as connection:
        found = connection.execute(text("SELECT status, requested_cents FROM decision ORDER BY status")).all()
    assert [tuple(row) for row in found] == [("applied", None), ("referred", 40_000 * 100)]
    engine.dispose()


def test_0009_moves_the_notification_bodies_apart_and_back(db_url: str) -> None:
    """Every body goes to ``notification_body`` under its outbox key, and back on downgrade."""
    engine = make_engine(db_url)
    upgrade(engine, "0008")
    queued = (
        "INSERT INTO notification (outbox_key, policyholder_id, recipients, language, subject, body_text, "
        "body_html, status, attempts, created_at) VALUES (:key, 'PH1', 'a@b.example', 'fr', 'Objet', :text, "
        ":html, 'pending', 0, :at)"
    )
    bodies = [
        ("20261123-PH1", "Bonjour é\n" * 3, "<p>Bonjour &eacute;</p>"),
        ("20261124-PH1", "Texte", "<p/>"),
    ]
    with engine.begin() as connection:
        for key, text_, html in bodies:
            connection.execute(
                text(queued), {"key": key, "text": text_, "html": html, "at": datetime.now(UTC)}
            )
    upgrade(engine, "0009")
    assert "body_text" not in {c["name"] for c in inspect(engine).get_columns("notification")}
    moved = "SELECT outbox_key, body_text, body_html FROM notification_body ORDER BY outbox_key"
    with engine.connect() as connection:
        assert [tuple(row) for row in connection.execute(text(moved))] == bodies
    config = alembic_config(engine.url.render_as_string(hide_password=False))
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        command.downgrade(config, "0008")
    fresh = make_engine(db_url)  # no cached reflection of the altered table
    assert "notification_body" not in inspect(fresh).get_table_names()
    back = "SELECT outbox_key, body_text, body_html FROM notification ORDER BY outbox_key"
    with fresh.connect() as connection:
        assert [tuple(row) for row in connection.execute(text(back))] == bodies
    fresh.dispose()
    engine.dispose()


@pytest.mark.parametrize("opened", ["nothing", "reads", "savepoint"])
def test_the_write_lock_is_held_however_the_transaction_was_opened(tmp_path: Path, opened: str) -> None:
    """No other connection can commit once the session holds the write lock: taken with no
    transaction open, after reads only (the stdlib driver opens none for them), or inside a
    savepoint-only transaction (which locks nothing by itself)."""
    engine = make_engine(f"sqlite:///{(tmp_path / 'lock.db').as_posix()}")
    Base.metadata.create_all(engine)
    other = sqlite3.connect(str(tmp_path / "lock.db"), timeout=0.1)
    other.execute("CREATE TABLE probe (x)")
    other.commit()
    with Session(engine) as session:
        if opened == "reads":
            session.execute(text("SELECT count(*) FROM buyer")).scalar()
        elif opened == "savepoint":
            session.begin_nested()
            session.execute(text("SELECT count(*) FROM buyer")).scalar()
        other.execute("INSERT INTO probe VALUES (0)")  # the lock is free until it is taken
        other.commit()
        if opened == "savepoint":  # that commit came after the savepoint's snapshot: stale
            with pytest.raises(DatabaseError, match="could not take the database's write lock"):
                hold_write_lock(session, "buyer")
            session.rollback()
            session.begin_nested()
            session.execute(text("SELECT count(*) FROM buyer")).scalar()
        hold_write_lock(session, "buyer")
        with pytest.raises(sqlite3.OperationalError, match="database is locked"):
            other.execute("INSERT INTO probe VALUES (1)")
        other.rollback()
        session.rollback()
        other.execute("INSERT INTO probe VALUES (1)")  # free again once the session is done
        other.commit()
        other.close()
    engine.dispose()
