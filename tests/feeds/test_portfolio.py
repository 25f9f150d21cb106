"""Portfolio extract: each entity file into its table, bad rows quarantined, own dates win."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from feeds.common import FeedFileError
from feeds.portfolio.load import entity_of, ingest
from feeds.portfolio.parse import ENTITIES, Known, validate
from models.buyer import Buyer
from models.credit_limit import CreditLimit
from models.policy import Policy
from models.policyholder import Policyholder
from models.quarantine import QuarantinedRow
from tests.feeds.payments_support import SIREN_A, SIREN_B, SIREN_C, write_csv

HOLDERS = ENTITIES["policyholders"].columns
POLICIES = ENTITIES["policies"].columns
BUYERS = ENTITIES["buyers"].columns
LIMITS = ENTITIES["limits"].columns
REQUESTS = ENTITIES["requests"].columns
OUTSTANDING = ENTITIES["outstanding"].columns


def _file(tmp_path: Path, name: str, columns: list[str], rows: list[list[str]], **kwargs: str) -> Path:
    return write_csv(tmp_path / name, rows, columns=columns, **kwargs)


def seed_portfolio(session: Session, tmp_path: Path) -> None:
    """Two policyholders, two policies, one limit (POL1 x SIREN_A)."""
    holders = [
        ["PH1", "Société Générale d'Emballage", "1200000.50", "PME", "risk@sge.fr; cfo@sge.fr", "fr"],
        ["PH2", "Acme Ltd", "", "", "credit@acme.co.uk", "EN"],
    ]
    assert ingest(session, _file(tmp_path, "portfolio_policyholders.csv", HOLDERS, holders)).accepted == 2
    policies = [
        ["POL1", "PH1", "FR", "", "", "", "", "1", "EUR", "250000"],
        ["POL2", "PH2", "BOTH", "7500", "15000", "0.95", "0.7", "0", "EUR", ""],
    ]
    assert ingest(session, _file(tmp_path, "portfolio_policies.csv", POLICIES, policies)).accepted == 2
    holder = session.get(Policyholder, "PH2")
    assert holder is not None and holder.language == "en"
    limits = [["POL1", SIREN_A, "50000", "2026-01-10", "", "active"]]
    assert ingest(session, _file(tmp_path, "portfolio_limits_0.csv", LIMITS, limits)).accepted == 1
    session.flush()


def _limit(session: Session, policy: str, buyer: str) -> CreditLimit:
    session.expire_all()
    found = session.execute(
        select(CreditLimit).where(CreditLimit.policy_id == policy, CreditLimit.buyer_id == buyer)
    ).scalar_one()
    return found


def test_policyholders_and_policies_windows_1252(session: Session, tmp_path: Path) -> None:
    rows = [
        ["PH1", "Société Générale d'Emballage", "1200000.50", "pme", "risk@sge.fr; cfo@sge.fr", "fr"],
        ["PH2", "Bad Mail", "", "", "risk@sge", "fr"],
        ["PH3", "Bad Language", "", "", "a@b.fr", "de"],
        ["PH4", "No Mail", "", "", "", "en"],
    ]
    path = _file(tmp_path, "portfolio_policyholders_2026.csv", HOLDERS, rows, encoding="cp1252")
    report = ingest(session, path)
    assert (report.read, report.accepted, report.quarantined) == (4, 1, 3)
    holder = session.get(Policyholder, "PH1")
    assert holder is not None
    assert holder.name == "Société Générale d'Emballage"
    assert (holder.revenue_cents, holder.size_category, holder.language) == (120000050, "PME", "fr")
    assert holder.emails == "risk@sge.fr,cfo@sge.fr"
    fields = dict(session.execute(select(QuarantinedRow.line, QuarantinedRow.field)).tuples().all())
    assert fields == {3: "emails", 4: "language", 5: "emails"}
    reason = session.execute(select(QuarantinedRow.reason).where(QuarantinedRow.line == 4)).scalar_one()
    assert reason == "expected fr or en, found 'de'"

    policies = [
        ["POL1", "PH1", "FR", "", "", "", "", "1", "EUR", "250000"],
        ["POL9", "PH9", "FR", "", "", "", "", "0", "EUR", ""],
        ["POL3", "PH1", "MARS", "", "", "", "", "0", "EUR", ""],
        ["POL4", "PH1", "FR", "", "", "1.5", "", "0", "EUR", ""],
    ]
    report = ingest(session, _file(tmp_path, "portfolio_policies.csv", POLICIES, policies))
    assert (report.accepted, report.quarantined) == (1, 3)
    policy = session.get(Policy, "POL1")
    assert policy is not None
    assert (policy.named_threshold_domestic_cents, policy.named_threshold_export_cents) == (
        500_000,
        1_000_000,
    )
    assert float(policy.indemnity_share_named) == pytest.approx(0.90)
    assert (policy.oal_option, policy.max_liability_cents) == (True, 25_000_000)
    reasons = session.execute(select(QuarantinedRow.reason).where(QuarantinedRow.field == "policyholder_id"))
    assert "expected a policyholder already in the portfolio, found 'PH9'" in reasons.scalars().all()


def test_foreign_buyers(session: Session, tmp_path: Path) -> None:
    rows = [
        ["DE-HRB1234", "Müller GmbH", "DE", "C25", "GmbH", "2001-05-02", "ETI"],
        ["IT-MI123", "Rossi S.p.A.", "IT", "", "S.p.A.", "", ""],
        ["XX-1", "Nowhere", "XX", "", "", "", ""],
        ["DE-HRB9", "Wrong Country", "FR", "", "", "", ""],
        [SIREN_A, "French", "FR", "", "", "", ""],
        ["CN-91310000", "Shanghai Trading", "CN", "", "Co., Ltd", "", ""],
    ]
    report = ingest(session, _file(tmp_path, "portfolio_buyers.csv", BUYERS, rows))
    assert (report.accepted, report.quarantined) == (3, 3)
    assert report.extra == {"written": 3, "legal_form_not_kept": 1}
    buyer = session.get(Buyer, "DE-HRB1234")
    assert buyer is not None
    assert (buyer.country, buyer.legal_category, buyer.creation_date) == ("DE", "GmbH", date(2001, 5, 2))
    italian = session.get(Buyer, "IT-MI123")
    assert italian is not None and italian.legal_category == "SpA"
    chinese = session.get(Buyer, "CN-91310000")
    assert chinese is not None and chinese.legal_category is None


def test_limits_resolved_by_effective_date(session: Session, tmp_path: Path) -> None:
    seed_portfolio(session, tmp_path)
    newer = [["POL1", SIREN_A, "80000", "2026-03-01", "2027-03-01", "active"]]
    ingest(session, _file(tmp_path, "portfolio_limits_2.csv", LIMITS, newer))
    older = [
        ["POL1", SIREN_A, "10000", "2026-02-01", "", "active"],
        ["POL1", SIREN_B, "20000", "2026-02-01", "", "active"],
        ["POL1", SIREN_B, "30000", "2026-02-15", "", "active"],
        ["NOPE", SIREN_B, "30000", "2026-02-15", "", "active"],
        ["POL2", SIREN_C, "-5", "2026-02-15", "", "active"],
    ]
    report = ingest(session, _file(tmp_path, "portfolio_limits_1.csv", LIMITS, older))
    assert (report.read, report.accepted, report.quarantined, report.duplicates) == (5, 2, 2, 1)
    limit = _limit(session, "POL1", SIREN_A)
    assert (limit.granted_cents, limit.effective_date, limit.expiry_date) == (
        8_000_000,
        date(2026, 3, 1),
        date(2027, 3, 1),
    )
    assert _limit(session, "POL1", SIREN_B).granted_cents == 3_000_000


def test_requests_new_creates_a_requested_limit_others_need_one(session: Session, tmp_path: Path) -> None:
    seed_portfolio(session, tmp_path)
    rows = [
        ["R1", "POL1", SIREN_A, "3", "75000", "2026-04-01"],
        ["R2", "POL2", SIREN_B, "2", "20000", "2026-04-02"],
        ["R3", "POL2", SIREN_C, "7", "1000", "2026-04-02"],
        ["R4", "POL1", SIREN_A, "9", "1000", "2026-04-02"],
        ["R5", "POL1", SIREN_A, "3", "", "2026-04-03"],
    ]
    report = ingest(session, _file(tmp_path, "portfolio_requests.csv", REQUESTS, rows))
    assert (report.read, report.accepted, report.quarantined) == (5, 2, 3)
    increased = _limit(session, "POL1", SIREN_A)
    assert (increased.request_type, increased.requested_cents, increased.request_date) == (
        3,
        7_500_000,
        date(2026, 4, 1),
    )
    assert (increased.request_id, increased.granted_cents, increased.status) == ("R1", 5_000_000, "active")
    created = _limit(session, "POL2", SIREN_B)
    assert (created.status, created.granted_cents, created.requested_cents, created.request_type) == (
        "requested",
        0,
        2_000_000,
        2,
    )
    reasons = dict(session.execute(select(QuarantinedRow.line, QuarantinedRow.field)).tuples().all())
    assert reasons == {4: "request_type", 5: "request_type", 6: "requested"}
    stale = [["R0", "POL1", SIREN_A, "7", "100", "2026-03-01"]]
    ingest(session, _file(tmp_path, "portfolio_requests_old.csv", REQUESTS, stale))
    assert _limit(session, "POL1", SIREN_A).request_id == "R1"


def test_outstanding_latest_declaration_wins_whatever_the_order(session: Session, tmp_path: Path) -> None:
    seed_portfolio(session, tmp_path)
    late = [["POL1", SIREN_A, "2026-05-31", "42000.10"]]
    early = [
        ["POL1", SIREN_A, "2026-04-30", "1000"],
        ["POL2", SIREN_C, "2026-04-30", "1000"],
    ]
    ingest(session, _file(tmp_path, "portfolio_outstanding_may.csv", OUTSTANDING, late))
    report = ingest(session, _file(tmp_path, "portfolio_outstanding_apr.csv", OUTSTANDING, early))
    assert (report.accepted, report.quarantined) == (1, 1)
    limit = _limit(session, "POL1", SIREN_A)
    assert (limit.outstanding_cents, limit.outstanding_date) == (4_200_010, date(2026, 5, 31))


def test_same_file_twice_and_missing_column(session: Session, tmp_path: Path) -> None:
    seed_portfolio(session, tmp_path)
    again = ingest(session, tmp_path / "portfolio_limits_0.csv")
    assert again.already_ingested
    assert session.execute(select(func.count()).select_from(CreditLimit)).scalar_one() == 1
    broken = _file(
        tmp_path, "portfolio_limits_9.csv", LIMITS[:-1], [["POL1", SIREN_B, "1", "2026-01-01", ""]]
    )
    with pytest.raises(FeedFileError, match=r"portfolio_limits_9\.csv: expected column 'status'"):
        ingest(session, broken)
    assert session.execute(select(func.count()).select_from(CreditLimit)).scalar_one() == 1


def test_unknown_entity_name_is_a_file_error(tmp_path: Path) -> None:
    with pytest.raises(FeedFileError, match=r"portfolio_claims\.csv"):
        entity_of(tmp_path / "portfolio_claims.csv")


_cells = st.one_of(
    st.sampled_from(
        ["", "0", "1", "2", "7", "fr", "FR", "POL1", "PH1", SIREN_A, "2026-01-31", "10.5", "a@b.fr"]
    ),
    st.text(max_size=10),
)


@settings(max_examples=30, deadline=None)
@given(st.sampled_from(sorted(ENTITIES)), st.data())
def test_random_rows_never_crash_and_reconcile(entity_name: str, data: st.DataObject) -> None:
    entity = ENTITIES[entity_name]
    rows = data.draw(
        st.lists(st.lists(_cells, min_size=len(entity.columns), max_size=len(entity.columns)), max_size=20)
    )
    raw = pl.DataFrame(
        {name: [r[i].strip() or None for r in rows] for i, name in enumerate(entity.columns)},
        schema=dict.fromkeys(entity.columns, pl.String),
    ).with_columns(pl.int_range(2, pl.len() + 2, dtype=pl.Int64).alias("_line"))
    known = Known(
        policyholders=frozenset({"PH1"}),
        policies=frozenset({"POL1"}),
        limits=pl.DataFrame({"policy_id": ["POL1"], "buyer_id": [SIREN_A]}),
    )
    accepted, rejected, duplicates = validate(entity, raw, known)
    assert len(accepted) + len(rejected) + duplicates == len(rows)
