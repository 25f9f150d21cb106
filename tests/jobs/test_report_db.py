"""The report built from the database (both backends) and printed by `vigie report`."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

import pandas as pd
from alembic import command
from sqlalchemy import text
from sqlalchemy.orm import Session, sessionmaker
from typer.testing import CliRunner

from config.settings import Settings, load_settings
from jobs.notify import enqueue, send_pending
from jobs.report.build import (
    _buyer_countries,
    _cover_by_country_and_rating,
    _decisions,
    build_report,
    bulk_reads,
)
from models import MonitoringMetric, Run, RunStep, bulk_read
from models.base import Base
from models.db import alembic_config, make_engine, session_factory
from tests.jobs.test_notify_seed import AS_OF, seed_portfolio

REQUIRED = {
    "country_risk_index",
    "good_risk_share",
    "less_good_risk_share",
    "decisions",
    "exposure_removed",
    "notifications",
    "model_monitoring",
    "missing_feeds",
}


def seed_run(session: Session) -> int:
    run = Run(business_date=AS_OF, status="running")
    session.add(run)
    session.flush()
    session.add_all(
        [
            RunStep(
                run_id=run.run_id,
                name="ingest",
                ordinal=1,
                status="succeeded",
                counts=json.dumps({"files": 4, "missing_feeds": ["payments"]}),
            ),
            MonitoringMetric(run_id=run.run_id, metric="psi", subject="score", value=0.3, status="alert"),
        ]
    )
    session.flush()
    return run.run_id


def test_build_report_writes_json_html_and_plots(
    session: Session, session_factory: sessionmaker[Session], settings: Settings
) -> None:
    seed_portfolio(session)
    run_id = seed_run(session)
    enqueue(session, business_date=AS_OF, run_id=run_id, settings=settings)
    session.commit()
    send_pending(session_factory, settings=settings)

    report = build_report(session, as_of=AS_OF, settings=settings, run_id=None)
    data = report.data
    assert set(data) >= REQUIRED
    # stock: limits in force 40k FR (not classified, w 1) + 30k + 60k US (cat 0, w 1) -> 1.0
    assert data["country_risk_index"]["stock"] == 1.0
    # flow: partly approved 30k for US (cat 0 -> 1); the referred approval is not a cover yet
    assert data["country_risk_index"]["flow"] == 1.0
    assert data["country_risk_index"]["flow_amount_cents"] == 30_000_00
    # ratings: 732829320 BBB 40k, US-1 AA 90k -> good 100 % of amount, 2 of 2 buyers
    assert data["good_risk_share"] == {"amount": 1.0, "count": 1.0}
    assert data["less_good_risk_share"] == {"amount": 0.0, "count": 0.0}
    assert data["decisions"] == {"2": 1, "5": 1, "8": 2, "9": 1}
    assert data["exposure_removed"] == {"amount_cents": 60_000_00 + 50_000_00 + 80_000_00, "decisions": 3}
    assert data["notifications"]["sent"] == 2 and data["notifications"]["dead_letter"] == 0
    assert data["model_monitoring"]["metrics"][0]["status"] == "alert"
    assert data["missing_feeds"] == ["payments"]
    folder = settings.reports_dir / "2026-11-10"
    assert report.html_path == folder / "report.html"
    assert {p.name for p in folder.glob("*.png")} == {"index.png", "decisions.png", "movers.png"}
    for png in folder.glob("*.png"):
        assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    html = report.html_path.read_text()
    assert "Feeds missing on this night" in html and "payments" in html
    assert "Boulangerie Martin" not in html and "(natural person)" in html  # a person's name stays out
    assert json.loads((folder / "report.json").read_text())["decisions"] == data["decisions"]


def test_the_index_history_reads_earlier_reports(session: Session, settings: Settings) -> None:
    seed_portfolio(session)
    session.commit()
    earlier = settings.reports_dir / "2026-11-09"
    earlier.mkdir(parents=True)
    (earlier / "report.json").write_text(json.dumps({"country_risk_index": {"stock": 3.1, "flow": 4.0}}))
    from jobs.report.build import _history

    history = _history(settings.reports_dir, AS_OF, 1.0, None)
    assert history["as_of"].tolist() == [date(2026, 11, 9), AS_OF]
    assert history["stock"].tolist() == [3.1, 1.0]


def test_vigie_report_prints_one_json_object(tmp_path: Path, sqlite_settings: Settings) -> None:
    from jobs.cli import app
    from jobs.cli_support import STATE

    settings = load_settings(workdir=tmp_path / "cli")
    engine = make_engine(settings.database_url)
    Base.metadata.create_all(engine)
    with engine.begin() as connection:  # the tables come from the models; mark them migrated
        cfg = alembic_config(settings.database_url)
        cfg.attributes["connection"] = connection
        command.stamp(cfg, "head")
    with session_factory(engine)() as s:
        seed_portfolio(s)
        s.commit()
    STATE.use_settings(settings)
    try:
        result = CliRunner().invoke(app, ["report", "--as-of", "2026-11-10", "--format", "json"])
        bad = CliRunner().invoke(app, ["report", "--as-of", "10/11/2026"])
    finally:
        STATE.use_settings(sqlite_settings)
        engine.dispose()
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert set(data) >= REQUIRED
    assert set(data["country_risk_index"]) >= {"stock", "flow"}
    assert set(data["notifications"]) >= {"sent", "dead_letter"}
    assert bad.exit_code != 0


def test_the_cover_is_the_same_read_in_bulk_or_through_the_session_and_empty_without_limits(
    session: Session,
) -> None:
    """Committed: read in bulk; with a write pending: read through the session (as on
    PostgreSQL). Same rows either way; a book without active limits has no cover (its columns
    are untyped when read through the session)."""
    seed_portfolio(session)
    session.commit()
    committed = _cover_by_country_and_rating(session, AS_OF, _buyer_countries(session))
    decided = _decisions(session, AS_OF, _buyer_countries(session))
    session.execute(text("UPDATE buyer SET name = name"))  # a write: the session's own read
    pending = _cover_by_country_and_rating(session, AS_OF, _buyer_countries(session))
    # the same rows (a missing amount is NaN in bulk, None through the session)
    through_session = _decisions(session, AS_OF, _buyer_countries(session))
    assert decided.astype(object).where(decided.notna(), None).to_numpy().tolist() == (
        through_session.astype(object).where(through_session.notna(), None).to_numpy().tolist()
    )
    countries = dict(zip(decided["buyer_id"], decided["buyer_country"], strict=True))
    assert countries == {"732829320": "FR", "552100554": "FR", "DE-HRB1": "DE", "US-1": "US"}
    order = ["country", "rating"]
    pd.testing.assert_frame_equal(
        committed.sort_values(order, na_position="first", ignore_index=True),
        pending.sort_values(order, na_position="first", ignore_index=True),
    )
    assert int(committed["amount_cents"].sum()) == 130_000_00 and int(committed["buyers"].sum()) == 2
    session.execute(text("UPDATE credit_limit SET granted_cents = 0"))  # no cover left
    empty = _cover_by_country_and_rating(session, AS_OF, _buyer_countries(session))
    assert empty.empty and list(empty.columns) == ["country", "rating", "buyers", "amount_cents"]
    session.rollback()


def test_the_reads_the_night_sends_ahead_are_those_the_report_makes(
    session: Session, settings: Settings
) -> None:
    """The send step sends the report's big reads ahead: the report takes every one of them
    (none left to drop) and says the same as when it reads them itself."""
    seed_portfolio(session)
    seed_run(session)
    session.commit()
    itself = build_report(session, as_of=AS_OF, settings=settings, run_id=None).data
    with bulk_read.reads_ahead():
        for sql, params in bulk_reads(session, AS_OF):
            bulk_read.prefetch(session, sql, params)
        sent = len(bulk_read._PREFETCHED)
        ahead = build_report(session, as_of=AS_OF, settings=settings, run_id=None).data
        assert bulk_read._PREFETCHED == {}  # each taken by the read it was sent for
    assert sent == (4 if session.get_bind().dialect.name == "sqlite" else 0)  # a server is read directly
    assert ahead == itself and ahead["decisions"] == {"2": 1, "5": 1, "8": 2, "9": 1}
