"""The synthetic generator's drop folder is accepted whole by the registry, financials, legal
and country feeds: the generator and the parsers follow one contract (``feeds/LAYOUTS.md``)."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.orm import Session

from feeds.country import load as country_load
from feeds.financials import load as financials_load
from feeds.legal import load as legal_load
from feeds.registry import load as registry_load

synthetic = pytest.importorskip("feeds.synthetic.generator")

LOADERS = {
    "registry": registry_load,
    "financials": financials_load,
    "legal": legal_load,
    "country": country_load,
}


@pytest.fixture(scope="module")
def drop(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("synthetic")
    generated = synthetic.generate(
        root / "drop", buyers=300, seed=11, business_date=date(2025, 6, 30), truth_dir=root / "truth"
    )
    return {source: generated.files[source] for source in LOADERS}


def test_every_generated_file_loads_without_quarantine(session: Session, drop: dict[str, Path]) -> None:
    for source, loader in LOADERS.items():
        report = loader.ingest(session, drop[source])
        assert report.quarantined == 0, (source, report)
        assert report.read == report.accepted + report.duplicates, (source, report)
    counts = {
        table: int(session.execute(text(f"SELECT COUNT(*) FROM {table}")).scalar_one())
        for table in ("buyer", "buyer_financials", "legal_event", "country_grade")
    }
    assert all(n > 0 for n in counts.values()), counts
