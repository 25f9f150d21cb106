"""The walking skeleton end to end: `vigie demo` through the real CLI, on SQLite and on
PostgreSQL, then the same night again (nothing doubled, no e-mail sent twice)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import date
from pathlib import Path

import pytest
from sqlalchemy import create_engine, func, select
from sqlalchemy.orm import Session

from jobs.nightly import STEP_NAMES
from models.decision import Decision
from models.notification import Notification
from models.run import Run, RunStep

BUSINESS_DATE = "2026-11-20"
NEXT_DATE = "2026-11-21"


def vigie(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    full_env = {k: v for k, v in os.environ.items() if not k.startswith("VIGIE_")}
    full_env.update(env)
    return subprocess.run(
        [sys.executable, "-m", "jobs.cli", *args],
        capture_output=True,
        text=True,
        env=full_env,
        check=False,
        timeout=600,
    )


@pytest.mark.slow
def test_the_demo_runs_a_whole_night_and_a_second_run_changes_nothing(db_url: str, tmp_path: Path) -> None:
    workdir = tmp_path / "night"
    env = {"VIGIE_DATABASE__URL": db_url}
    first = vigie("demo", "--buyers", "400", "--workdir", str(workdir), "--as-of", BUSINESS_DATE, env=env)
    assert first.returncode == 0, first.stdout + first.stderr
    assert BUSINESS_DATE in first.stdout
    assert "e-mails written" in first.stdout
    emails = sorted((workdir / "outbox").glob("*.eml"))
    assert emails, "the demo wrote no e-mail"
    report = workdir / "reports" / BUSINESS_DATE
    assert any(report.glob("*.html"))
    assert any(report.glob("*.png"))

    engine = create_engine(db_url)
    with Session(engine) as session:
        decisions = session.execute(select(func.count()).select_from(Decision)).scalar_one()
        sent = session.execute(select(func.count()).where(Notification.status == "sent")).scalar_one()
        run = session.execute(select(Run)).scalar_one()
        steps = session.execute(select(RunStep.name, RunStep.status)).all()
    assert decisions > 0
    assert sent == len(emails)
    assert run.status == "succeeded"
    assert all(status == "succeeded" for _, status in steps)
    assert {name for name, _ in steps} == set(STEP_NAMES)
    assert STEP_NAMES == (
        "ingest",
        "aggregate",
        "score",
        "monitor",
        "arbitrate",
        "eligibility",
        "outbox",
        "send",
        "report",
    )

    again = vigie("demo", "--buyers", "400", "--workdir", str(workdir), "--as-of", BUSINESS_DATE, env=env)
    assert again.returncode == 0, again.stdout + again.stderr
    with Session(engine) as session:
        assert session.execute(select(func.count()).select_from(Decision)).scalar_one() == decisions
        assert session.execute(select(func.count()).where(Notification.status == "sent")).scalar_one() == sent
    assert sorted((workdir / "outbox").glob("*.eml")) == emails

    report_json = vigie(
        "report", "--as-of", BUSINESS_DATE, "--format", "json", env={**env, "VIGIE_WORKDIR": str(workdir)}
    )
    assert report_json.returncode == 0, report_json.stderr
    data = json.loads(report_json.stdout)
    for key in (
        "country_risk_index",
        "good_risk_share",
        "less_good_risk_share",
        "decisions",
        "exposure_removed",
        "notifications",
        "model_monitoring",
    ):
        assert key in data

    # the next night has no feed files: it runs on the last data and the report says so
    night_env = {**env, "VIGIE_WORKDIR": str(workdir)}
    next_night = vigie("nightly", "--as-of", NEXT_DATE, env=night_env)
    assert next_night.returncode == 0, next_night.stdout + next_night.stderr
    next_report = vigie("report", "--as-of", NEXT_DATE, "--format", "json", env=night_env)
    assert next_report.returncode == 0, next_report.stderr
    assert set(json.loads(next_report.stdout)["missing_feeds"]) == {
        "registry",
        "legal",
        "payments",
        "portfolio",
    }
    with Session(engine) as session:
        assert session.execute(
            select(Run.status).where(Run.business_date == date(2026, 11, 21))
        ).scalar_one() == ("succeeded")
    engine.dispose()
