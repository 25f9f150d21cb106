"""The synthetic generator writes every feed in its documented layout, deterministically, with a
hidden truth that behaves like credit risk (defaults a few % a year, more among high true PDs)."""

from __future__ import annotations

import csv
import hashlib
import json
import re
from datetime import date, timedelta
from pathlib import Path

import numpy as np
import polars as pl
import pytest
from stdnum import luhn
from stdnum.fr import siren as stdnum_siren

from feeds.synthetic import GeneratedFeeds, generate
from feeds.synthetic.population import luhn_complete
from tests.conftest import SHARED_DATA

BUSINESS_DATE = date(2026, 6, 30)
BUYERS = 3000


@pytest.fixture(scope="module")
def feeds(tmp_path_factory: pytest.TempPathFactory) -> GeneratedFeeds:
    root = tmp_path_factory.mktemp("synthetic")
    return generate(root / "drop", buyers=BUYERS, seed=11, business_date=BUSINESS_DATE)


def _read_csv(path: Path) -> pl.DataFrame:
    return pl.read_csv(path, infer_schema=False)


def _layout_columns(source: str) -> list[str]:
    """Column names of a table in feeds/LAYOUTS.md (the first backticked cell of each row)."""
    text = (Path(__file__).resolve().parents[2] / "feeds" / "LAYOUTS.md").read_text(encoding="utf-8")
    section = text.split(f"## {source}")[1].split("\n## ")[0]
    return re.findall(r"^\| `([a-z_]+)` \|", section, flags=re.MULTILINE)


def _portfolio_layout(entity: str) -> list[str]:
    text = (Path(__file__).resolve().parents[2] / "feeds" / "LAYOUTS.md").read_text(encoding="utf-8")
    row = next(line for line in text.splitlines() if line.startswith(f"| `portfolio_{entity}*.csv`"))
    return re.findall(r"`([a-z_0-9]+)`", row.split("|")[2])


def _digest(folder: Path) -> dict[str, str]:
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(folder.iterdir())}


def test_same_seed_gives_identical_files_and_another_seed_does_not(tmp_path: Path) -> None:
    first = generate(tmp_path / "a" / "drop", buyers=400, seed=3, business_date=BUSINESS_DATE)
    second = generate(tmp_path / "b" / "drop", buyers=400, seed=3, business_date=BUSINESS_DATE)
    other = generate(tmp_path / "c" / "drop", buyers=400, seed=4, business_date=BUSINESS_DATE)
    assert _digest(first.out_dir) == _digest(second.out_dir)
    assert _digest(first.truth_dir) == _digest(second.truth_dir)
    differing = {k for k, v in _digest(first.out_dir).items() if _digest(other.out_dir)[k] != v}
    assert differing >= {f"StockUniteLegale_{BUSINESS_DATE}.csv", f"payments_{BUSINESS_DATE}.parquet"}


def test_file_names_follow_the_drop_folder_patterns(feeds: GeneratedFeeds) -> None:
    names = sorted(p.name for p in feeds.out_dir.iterdir())
    tag = BUSINESS_DATE.isoformat()
    expected = [
        f"StockUniteLegale_{tag}.csv",
        f"bodacc_{tag}.json",
        f"financials_{tag}.csv",
        f"oecd_{tag}.csv",
        f"payments_{tag}.parquet",
        *(
            f"portfolio_{e}_{tag}.csv"
            for e in ("buyers", "limits", "outstanding", "policies", "policyholders", "requests")
        ),
    ]
    assert names == sorted(expected)
    assert set(feeds.files.values()) == {feeds.out_dir / n for n in names}


def test_sirene_file_has_the_insee_35_columns_valid_sirens_and_real_naf_codes(feeds: GeneratedFeeds) -> None:
    layout = SHARED_DATA / "sirene" / "insee_stockunitelegale-311-dessin-de-fichier.csv"
    with layout.open(encoding="utf-8") as handle:
        insee_columns = [row["Nom"].strip() for row in csv.DictReader(handle)]
    frame = _read_csv(feeds.files["registry"])
    assert frame.columns == insee_columns
    assert frame.height == feeds.counts["registry"]
    assert all(stdnum_siren.is_valid(s) for s in frame["siren"])
    assert frame["siren"].n_unique() == frame.height

    naf = pl.read_csv(SHARED_DATA / "nomenclatures" / "insee_naf2008_5_niveaux.csv", separator=";")
    assert set(frame["activitePrincipaleUniteLegale"]) <= set(naf["NIV5"])
    assert set(frame["nomenclatureActivitePrincipaleUniteLegale"]) == {"NAFRev2"}
    assert set(frame["categorieEntreprise"]) == {"PME", "ETI", "GE"}
    assert set(frame["etatAdministratifUniteLegale"]) <= {"A", "C"}

    sole = frame.filter(pl.col("categorieJuridiqueUniteLegale") == "1000")
    companies = frame.filter(pl.col("categorieJuridiqueUniteLegale") != "1000")
    assert 0.05 < sole.height / frame.height < 0.3
    assert sole["nomUniteLegale"].null_count() == 0 and sole["prenomUsuelUniteLegale"].null_count() == 0
    assert sole["denominationUniteLegale"].null_count() == sole.height
    assert companies["denominationUniteLegale"].null_count() == 0
    assert companies["nomUniteLegale"].null_count() == companies.height
    legal_categories = {
        line.split(",", 1)[0]
        for line in (SHARED_DATA / "nomenclatures" / "categories_juridiques_niveau3_plansde.csv")
        .read_text(encoding="utf-8")
        .splitlines()
    }
    assert set(frame["categorieJuridiqueUniteLegale"]) <= legal_categories


def test_luhn_completion_matches_stdnum() -> None:
    bases = np.array([73282932, 30000000, 99999999, 55210055])
    for full in luhn_complete(bases):
        assert stdnum_siren.is_valid(f"{full:09d}")
        assert int(luhn.calc_check_digit(f"{full:09d}"[:8])) == full % 10


def test_financials_follow_the_layout_with_filings_months_after_year_end(feeds: GeneratedFeeds) -> None:
    frame = pl.read_csv(
        feeds.files["financials"], try_parse_dates=True, schema_overrides={"siren": pl.String}
    )
    assert frame.columns == _layout_columns("financials")
    sirene = set(_read_csv(feeds.files["registry"])["siren"])
    assert set(frame["siren"]) <= sirene
    assert frame.select(pl.struct("siren", "date_cloture_exercice").is_unique().all()).item()
    assert (frame["date_depot"] <= BUSINESS_DATE).all()
    delay = (frame["date_depot"] - frame["date_cloture_exercice"]).dt.total_days()
    assert (delay >= 90).all()
    on_time = (delay <= 215).sum() / len(delay)
    assert 0.8 < on_time < 1.0  # most file within 3-7 months, some are late
    per_company = frame.group_by("siren").len()["len"]
    assert (per_company >= 3).any()
    assert (frame["total_bilan"] > 0).all()


def test_bodacc_is_the_export_json_array_with_json_string_fields(feeds: GeneratedFeeds) -> None:
    records = json.loads(feeds.files["legal"].read_text(encoding="utf-8"))
    assert isinstance(records, list) and len(records) == feeds.counts["legal"]
    natures = {
        line.strip()
        for line in (SHARED_DATA / "bodacc" / "jugement_natures_ods_exactcase_transcribed.csv")
        .read_text(encoding="utf-8")
        .splitlines()[1:]
    }
    sirene = set(_read_csv(feeds.files["registry"])["siren"])
    by_id = {r["id"]: r for r in records}
    assert len(by_id) == len(records)
    families = {r["familleavis"] for r in records}
    assert families == {"collective", "dpc", "radiation"}
    for record in records:
        assert isinstance(record["registre"], list) and record["registre"][0] in sirene
        assert record["registre"][1].replace(" ", "") == record["registre"][0]
        assert record["dateparution"] <= BUSINESS_DATE.isoformat()
        assert record["id"] == record["publicationavis"] + record["parution"] + str(record["numeroannonce"])
        people = json.loads(record["listepersonnes"])
        assert people["personne"]["typePersonne"] in {"pm", "pp"}
        if record["familleavis"] == "collective":
            judgment = json.loads(record["jugement"])
            assert judgment["nature"] in natures
            assert judgment["famille"]
        if record["familleavis"] == "dpc":
            assert json.loads(record["depot"])["dateCloture"]
        if record["typeavis"] != "annonce":
            previous = json.loads(record["parutionavisprecedent"])
            letter = previous["nomPublication"].split()[-1]
            target = by_id[letter + previous["numeroParution"] + previous["numeroAnnonce"]]
            assert target["typeavis"] == "annonce" and target["registre"] == record["registre"]
            assert target["dateparution"] == previous["dateParution"] < record["dateparution"]
    kinds = {r["typeavis"] for r in records}
    assert kinds == {"annonce", "rectificatif", "annulation"}


def test_payments_parquet_follows_the_layout_with_the_requested_count(feeds: GeneratedFeeds) -> None:
    frame = pl.read_parquet(feeds.files["payments"])
    assert frame.columns == _layout_columns("payments")
    assert frame.height == BUYERS * 10 == feeds.counts["payments"]
    known = set(_read_csv(feeds.files["registry"])["siren"]) | set(
        _read_csv(feeds.files["portfolio_buyers"])["buyer_id"]
    )
    assert set(frame["buyer_id"]) <= known
    holders = set(_read_csv(feeds.files["portfolio_policyholders"])["policyholder_id"])
    assert set(frame["policyholder_id"]) <= holders
    assert frame.select(pl.struct("policyholder_id", "invoice_id").is_unique().all()).item()
    assert (frame["due_date"] > frame["invoice_date"]).all()
    assert (frame["invoice_date"] >= BUSINESS_DATE - timedelta(days=3 * 366)).all()
    assert (frame["invoice_date"] <= BUSINESS_DATE).all()
    paid = frame.filter(pl.col("paid_date").is_not_null())
    assert (paid["paid_date"] <= BUSINESS_DATE).all()
    assert 0 < frame["paid_date"].null_count() < frame.height * 0.2
    assert set(frame["overdue_declared"].unique()) == {0, 1}
    assert set(frame["currency"]) >= {"EUR", "USD"}


def test_portfolio_files_follow_the_layout(feeds: GeneratedFeeds) -> None:
    for entity in ("policyholders", "policies", "buyers", "limits", "requests", "outstanding"):
        frame = _read_csv(feeds.files[f"portfolio_{entity}"])
        assert frame.columns == _portfolio_layout(entity), entity
        assert frame.height == feeds.counts[f"portfolio_{entity}"] > 0

    buyers = _read_csv(feeds.files["portfolio_buyers"])
    assert 0.15 < buyers.height / BUYERS < 0.25
    assert "FR" not in set(buyers["country"])
    assert buyers.select(pl.col("buyer_id").str.starts_with(pl.col("country") + "-").all()).item()

    limits = pl.read_csv(feeds.files["portfolio_limits"], schema_overrides={"buyer_id": pl.String})
    assert 2.7 < limits.height / BUYERS < 3.1
    assert limits.select(pl.struct("policy_id", "buyer_id").is_unique().all()).item()
    assert (limits["granted"] % 1000 == 0).all()
    assert set(limits["status"]) == {"active", "cancelled", "refused"}

    requests = pl.read_csv(feeds.files["portfolio_requests"], schema_overrides={"buyer_id": pl.String})
    assert set(requests["request_type"]) <= {2, 3, 6, 7, 8} and {2, 3} <= set(requests["request_type"])
    pairs = limits.select("policy_id", "buyer_id")
    new = requests.filter(pl.col("request_type") == 2).join(pairs, on=["policy_id", "buyer_id"], how="semi")
    assert new.height == 0  # a new-limit request is for a pair without a limit
    assert 0.01 < requests.height / limits.height < 0.05

    holders = _read_csv(feeds.files["portfolio_policyholders"])
    assert (
        holders["emails"].str.contains(r"^credit@[a-z0-9-]+\.example(;finance@[a-z0-9-]+\.example)?$").all()
    )
    assert set(holders["language"]) == {"fr", "en"}
    policies = _read_csv(feeds.files["portfolio_policies"])
    assert set(policies["policyholder_id"]) <= set(holders["policyholder_id"])
    assert set(limits["policy_id"]) <= set(policies["policy_id"])


def test_oecd_file_is_the_real_historical_table(feeds: GeneratedFeeds) -> None:
    shipped = feeds.files["country"].read_bytes()
    assert shipped == (SHARED_DATA / "oecd" / "cre-crc-historical-internet-english.csv").read_bytes()
    assert feeds.counts["country"] == 201


def test_default_rate_is_plausible_and_rises_with_true_pd(feeds: GeneratedFeeds) -> None:
    snapshots = pl.read_parquet(feeds.truth_dir / "true_pd_snapshots.parquet")
    past = snapshots.filter(pl.col("default_within_12m").is_not_null() & ~pl.col("in_default"))
    yearly = past.group_by("as_of").agg(pl.col("default_within_12m").mean().alias("rate"))
    assert yearly.height == 3
    assert yearly["rate"].is_between(0.01, 0.05).all()
    ranked = past.with_columns(band=(pl.col("true_pd_12m").rank("ordinal") * 5 // (past.height + 1)))
    by_band = ranked.group_by("band").agg(pl.col("default_within_12m").mean().alias("rate")).sort("band")
    rates = by_band["rate"].to_list()
    assert rates[-1] > 4 * max(rates[0], 1e-3)
    assert rates[-1] > rates[2] > rates[0]
    # The true PD is on the same scale as the observed default rate.
    mean_pd, rate = past.select(pl.col("true_pd_12m").mean(), pl.col("default_within_12m").mean()).row(0)
    assert abs(mean_pd - rate) < 0.01


def test_each_french_default_is_published_as_an_opening_judgment_on_its_date(feeds: GeneratedFeeds) -> None:
    defaults = pl.read_parquet(feeds.truth_dir / "defaults.parquet")
    assert defaults.height == feeds.counts["defaults"]
    records = json.loads(feeds.files["legal"].read_text(encoding="utf-8"))
    openings = {
        (r["registre"][0], json.loads(r["jugement"])["date"])
        for r in records
        if r["familleavis"] == "collective"
        and r["typeavis"] == "annonce"
        and json.loads(r["jugement"])["famille"] == "Jugement d'ouverture"
    }
    french = defaults.filter(
        ~pl.col("buyer_id").str.contains("-") & (pl.col("default_date") < BUSINESS_DATE - timedelta(days=25))
    )
    assert french.height > 20
    found = sum(
        (b, d.isoformat()) in openings
        for b, d in zip(french["buyer_id"], french["default_date"], strict=True)
    )
    # All but the few notices carrying a French-text date or a date later corrected by a rectificatif.
    assert found >= 0.9 * french.height
    truth = pl.read_parquet(feeds.truth_dir / "true_pd.parquet")
    assert truth.height == BUYERS and truth["buyer_id"].n_unique() == BUYERS
    assert truth["in_default"].sum() == defaults.height


def test_defaulted_companies_stop_filing_and_pay_late_before_default(feeds: GeneratedFeeds) -> None:
    defaults = pl.read_parquet(feeds.truth_dir / "defaults.parquet")
    financials = pl.read_csv(
        feeds.files["financials"], try_parse_dates=True, schema_overrides={"siren": pl.String}
    )
    after = financials.join(defaults, left_on="siren", right_on="buyer_id").filter(
        pl.col("date_depot") >= pl.col("default_date")
    )
    assert after.height == 0
    payments = pl.read_parquet(feeds.files["payments"]).join(defaults, on="buyer_id", how="left")
    late = payments.with_columns(
        beyond=(pl.coalesce("paid_date", pl.lit(BUSINESS_DATE)) - pl.col("due_date")).dt.total_days(),
        near=(pl.col("default_date") - pl.col("due_date")).dt.total_days().is_between(0, 180),
    )
    near_default = late.filter(pl.col("near")).select(pl.col("beyond").mean()).item()
    sound = late.filter(pl.col("default_date").is_null()).select(pl.col("beyond").mean()).item()
    assert near_default > sound + 20


def test_rejects_sizes_it_cannot_draw(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="buyers: expected at least 10, found 3"):
        generate(tmp_path / "drop", buyers=3, business_date=BUSINESS_DATE)
