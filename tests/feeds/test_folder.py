"""Drop-folder discovery and ordered ingest."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from feeds.common import FeedFileError, FileReport
from feeds.folder import discover, ingest_folder
from models.policy import Policy
from models.policyholder import Policyholder
from tests.feeds.payments_support import invoice, write_csv
from tests.feeds.test_portfolio import HOLDERS, POLICIES


def _touch(folder: Path, *names: str) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    for name in names:
        (folder / name).write_text("x\n")


def test_discover_orders_by_dependency_and_reports_unknown_files(tmp_path: Path) -> None:
    _touch(
        tmp_path,
        "payments_2026-11-20.parquet",
        "bodacc_2026-11-20.json",
        "portfolio_outstanding_2026.csv",
        "portfolio_policies_2026.csv",
        "portfolio_policyholders_2026.csv",
        "financials_2026.csv",
        "StockUniteLegale_2026.csv",
        "OECD_country_risk.csv",
        "portfolio_limits_2026.csv",
        "portfolio_requests_2026.csv",
        "portfolio_buyers_2026.csv",
        "readme.txt",
        ".hidden",
    )
    (tmp_path / "subfolder").mkdir()
    found = [(source, path.name) for source, path in discover(tmp_path)]
    assert found == [
        ("country", "OECD_country_risk.csv"),
        ("registry", "StockUniteLegale_2026.csv"),
        ("portfolio", "portfolio_policyholders_2026.csv"),
        ("portfolio", "portfolio_policies_2026.csv"),
        ("portfolio", "portfolio_buyers_2026.csv"),
        ("portfolio", "portfolio_limits_2026.csv"),
        ("portfolio", "portfolio_requests_2026.csv"),
        ("portfolio", "portfolio_outstanding_2026.csv"),
        ("financials", "financials_2026.csv"),
        ("legal", "bodacc_2026-11-20.json"),
        ("payments", "payments_2026-11-20.parquet"),
        ("unknown", "readme.txt"),
    ]


def test_discover_needs_a_folder(tmp_path: Path) -> None:
    with pytest.raises(FeedFileError, match="expected a folder"):
        discover(tmp_path / "missing")


def test_ingest_folder_goes_on_after_a_rejected_file(session: Session, tmp_path: Path) -> None:
    drop = tmp_path / "drop"
    # policies refer to policyholders: alphabetical order would load them first and refuse them
    write_csv(
        drop / "portfolio_policies_1.csv",
        [["POL1", "PH1", "FR", "", "", "", "", "0", "EUR", ""]],
        columns=POLICIES,
    )
    write_csv(
        drop / "portfolio_policyholders_1.csv", [["PH1", "Acme", "", "", "a@acme.fr", "fr"]], columns=HOLDERS
    )
    write_csv(drop / "payments_1.csv", [invoice("I1")], columns=["policyholder_id", "buyer_id"])
    write_csv(drop / "payments_2.csv", [invoice("I2"), invoice("I3", amount="x")])
    (drop / "notes.txt").write_text("not a feed")
    seen: list[tuple[int, int]] = []

    def progress(_report: FileReport, done: int, total: int) -> None:
        seen.append((done, total))

    reports = ingest_folder(session, drop, store_dir=tmp_path / "store", progress=progress)
    session.commit()
    assert seen == [(i, 5) for i in range(1, 6)]
    by_name = {Path(r.file).name: r for r in reports}
    assert by_name["portfolio_policies_1.csv"].accepted == 1
    assert "payments_1.csv: expected column 'invoice_id'" in (by_name["payments_1.csv"].error or "")
    assert (by_name["payments_2.csv"].accepted, by_name["payments_2.csv"].quarantined) == (1, 1)
    assert "notes.txt" in (by_name["notes.txt"].error or "") and by_name["notes.txt"].source == "unknown"
    assert session.execute(select(func.count()).select_from(Policy)).scalar_one() == 1
    assert session.execute(select(func.count()).select_from(Policyholder)).scalar_one() == 1


def test_a_synthetic_drop_folder_goes_in_whole(session: Session, tmp_path: Path) -> None:
    """Every file the generator writes is accepted by its loader, in dependency order: the
    generator and the parsers speak the same layouts (feeds/LAYOUTS.md)."""
    from datetime import date

    from feeds.synthetic.generator import generate

    drop = tmp_path / "drop"
    generate(drop, buyers=40, seed=3, business_date=date(2026, 11, 20), truth_dir=tmp_path / "truth")
    reports = ingest_folder(session, drop, store_dir=tmp_path / "store")
    session.commit()
    assert [r.error for r in reports] == [None] * len(reports)
    mine = [r for r in reports if r.source in {"portfolio", "payments"}]
    assert len(mine) == 7
    assert all(r.accepted > 0 and r.quarantined == 0 for r in mine), [(r.file, r.quarantined) for r in mine]
