"""``vigie rules check / simulate / explain`` from the command line."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

from config.settings import CONFIG_DIR


def vigie(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "jobs.cli", *args], capture_output=True, text=True, env=env, check=False
    )


def test_check_accepts_the_default_set() -> None:
    result = vigie("rules", "check", str(CONFIG_DIR / "rules"))
    assert result.returncode == 0, result.stderr
    assert "31 rules" in result.stdout.replace("\n", " ")


def test_check_reports_file_and_line_and_exits_2(tmp_path: Path) -> None:
    folder = tmp_path / "rules"
    shutil.copytree(CONFIG_DIR / "rules", folder)
    path = folder / "30-payments.yaml"
    path.write_text(
        path.read_text().replace("var: overdue_declarations, op: ge", "var: overdue_decl, op: ge")
    )
    result = vigie("rules", "check", str(folder))
    assert result.returncode == 2
    assert "30-payments.yaml:" in result.stderr and "unknown variable 'overdue_decl'" in result.stderr
    line = int(result.stderr.split("30-payments.yaml:")[1].split(":")[0])
    assert "overdue_decl" in path.read_text().splitlines()[line - 1]


def test_simulate_and_explain_on_a_migrated_database(tmp_path: Path) -> None:
    import os

    from alembic import command
    from sqlalchemy.orm import Session

    from models.base import Base
    from models.db import alembic_config, make_engine
    from tests.arbitration.portfolio import seed_portfolio

    env = {**os.environ, "VIGIE_WORKDIR": str(tmp_path / "work")}
    url = f"sqlite:///{tmp_path / 'work' / 'vigie.db'}"
    engine = make_engine(url)
    Base.metadata.create_all(engine)  # the models' schema, marked as migrated
    command.stamp(alembic_config(url), "head")
    with Session(engine) as session:
        seed_portfolio(session)
        session.commit()
    engine.dispose()
    result = vigie(
        "rules",
        "simulate",
        "--candidate",
        str(CONFIG_DIR / "rules"),
        "--as-of",
        "2026-11-23",
        "--json",
        env=env,
    )
    assert result.returncode == 0, result.stderr
    impact = json.loads(result.stdout)
    assert impact["limits_changed"] == 0 and impact["decisions"]["active"] == impact["decisions"]["candidate"]
    result = vigie("rules", "explain", "1", "--as-of", "2026-11-23", env=env)
    assert result.returncode == 0, result.stderr
    assert "cancellation" in result.stdout and "insolvency.liquidation" in result.stdout
    missing = vigie("rules", "explain", "999", "--as-of", "2026-11-23", env=env)
    assert missing.returncode == 2 and "999" in missing.stderr
