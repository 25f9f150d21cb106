"""Shared fixtures: a fresh database per test, on SQLite and on a real PostgreSQL server.

``db_engine`` is parametrised over both backends. PostgreSQL comes from
``VIGIE_TEST_POSTGRES_URL`` (``.ci/start-postgres`` starts one and prints it). Outside CI a
missing server skips the PostgreSQL half; in CI (``CI`` set) it is an error, never a skip.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine, create_engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session, sessionmaker

import models
from config.settings import Settings, load_settings
from models.base import Base
from models.db import make_engine

SHARED_DATA = Path(__file__).resolve().parents[2] / "shared" / "data"
"""Real reference data beside the project (tests may read it; the product never does)."""

_ = models  # registers every table


def _postgres_url() -> str | None:
    url = os.environ.get("VIGIE_TEST_POSTGRES_URL")
    if url:
        return url
    if os.environ.get("CI"):
        raise RuntimeError("CI is set but VIGIE_TEST_POSTGRES_URL is not: start .ci/start-postgres first")
    return None


def _admin_engine(base_url: str) -> Engine:
    return create_engine(make_url(base_url).set(database="postgres"), isolation_level="AUTOCOMMIT")


@pytest.fixture(scope="session")
def postgres_url(worker_id: str, testrun_uid: str) -> Iterator[str]:
    """A database of its own for this test run and xdist worker (dropped at the end), so
    parallel workers and concurrent runs never share a schema."""
    base = _postgres_url()
    if base is None:
        pytest.skip("no PostgreSQL server: set VIGIE_TEST_POSTGRES_URL (see .ci/start-postgres)")
    url = make_url(base)
    name = f"{url.database}_{worker_id}_{testrun_uid[:8]}"
    admin = _admin_engine(base)
    with admin.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    yield url.set(database=name).render_as_string(hide_password=False)
    with admin.connect() as connection:
        connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


def fresh_postgres_engine(url: str) -> Engine:
    engine = make_engine(url)
    with engine.begin() as connection:
        connection.execute(text("DROP SCHEMA public CASCADE"))
        connection.execute(text("CREATE SCHEMA public"))
    return engine


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """URL of an empty database (no tables) on each backend."""
    if request.param == "sqlite":
        return f"sqlite:///{(tmp_path / 'vigie.db').as_posix()}"
    url: str = request.getfixturevalue("postgres_url")
    fresh_postgres_engine(url).dispose()
    return url


@pytest.fixture
def db_engine(db_url: str) -> Iterator[Engine]:
    """An engine on a fresh database with every table created from the models."""
    engine = make_engine(db_url)
    Base.metadata.create_all(engine)
    yield engine
    engine.dispose()


@pytest.fixture
def session_factory(db_engine: Engine) -> sessionmaker[Session]:
    return sessionmaker(db_engine, expire_on_commit=False)


@pytest.fixture
def session(session_factory: sessionmaker[Session]) -> Iterator[Session]:
    with session_factory() as session:
        yield session


@pytest.fixture
def settings(tmp_path: Path, db_url: str) -> Settings:
    """Settings whose work directory is the test's temporary folder, on the test's database."""
    return load_settings(workdir=tmp_path / "work", database={"url": db_url})


@pytest.fixture
def sqlite_settings(tmp_path: Path) -> Settings:
    """Settings on a SQLite file only (for tests whose subject is not the database)."""
    return load_settings(workdir=tmp_path / "work")
