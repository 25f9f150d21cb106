"""The benchmark harness: its help, its feeds cache (generated once, then reused) and its reading
of the run ledger. The end-to-end stages are exercised by running the script itself."""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
from datetime import date
from pathlib import Path
from types import ModuleType

from sqlalchemy import create_engine, insert

from models.base import Base
from models.run import Run, RunStep

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "benchmarks" / "run.py"


def _harness() -> ModuleType:
    """benchmarks/run.py is a script, not a package module: load it from its path."""
    if "benchmark_run" in sys.modules:
        return sys.modules["benchmark_run"]
    spec = importlib.util.spec_from_file_location("benchmark_run", SCRIPT)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["benchmark_run"] = module  # dataclasses look their module up while being built
    spec.loader.exec_module(module)
    return module


def test_help_lists_the_options_and_the_stages() -> None:
    done = subprocess.run(
        [sys.executable, str(SCRIPT), "--help"], capture_output=True, text=True, check=False
    )
    assert done.returncode == 0, done.stderr
    for text in (
        "--buyers",
        "--cache",
        "--workdir",
        "--from-stage",
        "vigie ingest folder",
        "vigie nightly --as-of D",
        "vigie nightly --as-of D+1",
    ):
        assert text in done.stdout


def test_starting_at_a_later_stage_needs_the_workdir_of_the_earlier_ones(tmp_path: Path) -> None:
    command = [sys.executable, str(SCRIPT), "--cache", str(tmp_path), "--from-stage", "nightly"]
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    assert done.returncode == 2
    assert "--from-stage needs the --workdir" in done.stderr
    assert not (tmp_path / "generated.json").exists()  # refused before generating anything


def test_feeds_are_generated_once_then_reused(tmp_path: Path) -> None:
    command = [sys.executable, str(SCRIPT), "--buyers", "300", "--cache", str(tmp_path), "--generate-only"]
    first = subprocess.run(command, capture_output=True, text=True, check=False)
    assert first.returncode == 0, first.stderr
    assert "feeds generated" in first.stdout
    marker = json.loads((tmp_path / "generated.json").read_text(encoding="utf-8"))
    assert marker["buyers"] == 300 and marker["counts"]["payments"] == 3000
    stamps = {p.name: p.stat().st_mtime_ns for p in (tmp_path / "drop").iterdir()}
    assert len(stamps) == 11 and (tmp_path / "truth" / "true_pd.parquet").exists()

    second = subprocess.run(command, capture_output=True, text=True, check=False)
    assert second.returncode == 0, second.stderr
    assert "feeds reused" in second.stdout
    assert {p.name: p.stat().st_mtime_ns for p in (tmp_path / "drop").iterdir()} == stamps

    other_seed = subprocess.run([*command, "--seed", "8"], capture_output=True, text=True, check=False)
    assert "feeds generated" in other_seed.stdout


def test_drop_folder_links_the_cached_files(tmp_path: Path) -> None:
    harness = _harness()
    harness.prepare_cache(tmp_path / "cache", buyers=100, seed=1, as_of=date(2026, 6, 30))
    drop = harness.stage_drop_folder(tmp_path / "cache", tmp_path / "work", date(2026, 6, 30))
    assert drop == tmp_path / "work" / "feeds" / "2026-06-30"
    assert sorted(p.name for p in drop.iterdir()) == sorted(
        p.name for p in (tmp_path / "cache" / "drop").iterdir()
    )


def test_trained_version_is_read_from_the_train_output() -> None:
    harness = _harness()
    assert harness.trained_version("trained vigie-pd: AUC 0.81\nregistered model vigie-pd version 3") == "3"
    assert harness.trained_version("Registered version: 12 (stage None)") == "12"
    assert harness.trained_version("nothing printed") is None


def test_ledger_steps_are_read_with_their_counts(tmp_path: Path) -> None:
    url = f"sqlite:///{(tmp_path / 'vigie.db').as_posix()}"
    engine = create_engine(url)
    Base.metadata.create_all(engine)
    with engine.begin() as connection:
        connection.execute(insert(Run).values(run_id=1, business_date=date(2026, 6, 30), status="succeeded"))
        connection.execute(
            insert(RunStep),
            [
                {"run_id": 1, "name": "score", "ordinal": 2, "status": "succeeded", "seconds": 2.0,
                 "counts": json.dumps({"buyers": 1000, "skipped": 3, "exposure_removed_cents": 10**9})},
                {"run_id": 1, "name": "features", "ordinal": 1, "status": "succeeded", "seconds": 0.5,
                 "counts": "{}"},
            ],
        )  # fmt: skip
    engine.dispose()
    steps = _harness().read_ledger(url, date(2026, 6, 30))
    assert [s.name for s in steps] == ["features", "score"]
    assert steps[1].rows == 1000 and steps[1].seconds == 2.0
    assert steps[0].rows is None
    assert _harness().read_ledger(url, date(2026, 7, 1)) == []
