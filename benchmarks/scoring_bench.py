"""Scoring benchmarks.

1. Speed: features + PD + grade + letter + reason codes for 1,000,000 buyers (target <= 10 s
   on a 2-core machine). Input frames are built in memory (1M buyers, 3M yearly accounts,
   legal events, 1M payment aggregates); the model is Vigie's own pipeline fitted on 30,000
   of them.
2. Quality against the generator's oracle: generate feeds with their hidden true PD, ingest
   them, train as of (business date - 12 months) through the real pipeline (point-in-time
   snapshots), then score the later out-of-time snapshot (business date - 12 months) and
   compare with the true PD on the defaults realised in the next 12 months (French buyers:
   their defaults are the BODACC openings the model learns from). Targets: AUC >= 0.98 x
   oracle AUC, Brier <= 1.05 x oracle Brier.

Usage: python benchmarks/scoring_bench.py [--buyers 1000000] [--oracle-buyers 20000] [--skip-oracle]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from datetime import date
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.metrics import brier_score_loss, roc_auc_score

from config.settings import CONFIG_DIR, load_settings
from scoring.dataset import add_months
from scoring.features import BUYER_FEATURES, build_features
from scoring.master_scale import load_master_scale
from scoring.model import finish
from scoring.reasons import load_reason_codes
from scoring.registry import LoadedModel
from scoring.service import score_frame

AS_OF = date(2026, 6, 30)


def synthetic_frames(n: int, seed: int = 0) -> tuple[dict[str, pd.DataFrame], np.ndarray]:
    rng = np.random.default_rng(seed)
    ids = np.char.add("B", np.arange(n).astype(str))
    quality = rng.normal(size=n)
    buyers = pd.DataFrame(
        {
            "buyer_id": ids,
            "country": np.where(rng.random(n) < 0.8, "FR", "DE"),
            "naf_code": rng.choice(["47.11Z", "10.11Z", "45.11Z", "41.20A", "62.01Z", "49.41A"], n),
            "legal_category": rng.choice(["5710", "5499", "5599", "1000"], n),
            "creation_date": pd.to_datetime("2000-01-01")
            + pd.to_timedelta(rng.integers(0, 9000, n), unit="D"),
            "headcount_band": rng.choice(["00", "11", "12", "21", "NN"], n),
            "size_category": rng.choice(["PME", "ETI", "GE"], n),
        }
    )
    fin = []
    for year in (2022, 2023, 2024):
        assets = rng.uniform(1e7, 1e10, n)
        fin.append(
            pd.DataFrame(
                {
                    "buyer_id": ids,
                    "fiscal_year_end": pd.Timestamp(f"{year}-12-31"),
                    "filed_date": pd.Timestamp(f"{year + 1}-06-30"),
                    "revenue_cents": (assets * rng.uniform(0.5, 2, n)).astype("int64"),
                    "equity_cents": (assets * (0.25 + 0.1 * quality)).astype("int64"),
                    "total_assets_cents": assets.astype("int64"),
                    "net_income_cents": (assets * 0.03 * quality).astype("int64"),
                    "total_debt_cents": (assets * rng.uniform(0, 0.8, n)).astype("int64"),
                    "operating_income_cents": (assets * 0.05 * quality).astype("int64"),
                }
            )
        )
    financials = pd.concat(fin, ignore_index=True)
    k = n // 20
    events = pd.DataFrame(
        {
            "buyer_id": rng.choice(ids, k),
            "event_type": rng.choice(["open_rj", "sanction", "plan", "accounts_filed", "closure"], k),
            "event_date": pd.Timestamp("2021-01-01") + pd.to_timedelta(rng.integers(0, 2000, k), unit="D"),
            "cancelled": rng.random(k) < 0.02,
        }
    )
    events["publication_date"] = events["event_date"] + pd.Timedelta(days=10)
    events["accounts_closing_date"] = pd.NaT
    dbt = np.clip(8 - 6 * quality + rng.normal(scale=3, size=n), 0, None)
    payments = pd.DataFrame(
        {
            "buyer_id": ids,
            "as_of": pd.Timestamp(AS_OF),
            "invoices": 10,
            "amount_cents": rng.integers(10_000, 10**9, n),
            "days_beyond_terms": dbt,
            "overdue_share": np.clip(dbt / 60, 0, 1),
            "overdue_declarations": (dbt > 20).astype(int),
            "dbt_trend_3m": rng.normal(size=n),
            "dbt_trend_12m": rng.normal(size=n),
            "reporting_policyholders": rng.integers(1, 5, n),
        }
    )
    grades = pd.DataFrame(
        {"country": ["FR", "DE"], "valid_from": [pd.Timestamp("2015-01-01")] * 2, "category": [None, None]}
    )
    frames = {
        "buyers": buyers,
        "financials": financials,
        "legal_events": events,
        "payments": payments,
        "country_grades": grades,
    }
    target = (rng.random(n) < 1 / (1 + np.exp(3.5 + 1.5 * quality))).astype(int)
    return frames, target


def speed(n: int, kind: str) -> None:
    frames, target = synthetic_frames(n)
    start = time.perf_counter()
    features = build_features(**frames, as_of=AS_OF)
    t_features = time.perf_counter() - start
    train = features.iloc[:30_000]
    model = finish(kind, BUYER_FEATURES, train, target[:30_000])
    loaded = LoadedModel("bench", "champion", "0", model, BUYER_FEATURES.names)
    scale = load_master_scale(load_settings().paths.master_scale_file)
    codes = load_reason_codes(CONFIG_DIR / "reason_codes.yaml")
    start = time.perf_counter()
    scores = score_frame(loaded, features, scale, codes)
    t_score = time.perf_counter() - start
    print(
        f"speed ({kind}): {len(scores):,} buyers: features {t_features:.2f} s + PD/grade/reasons {t_score:.2f} s "
        f"= {t_features + t_score:.2f} s (target <= 10 s)"
    )


def oracle(buyers: int, workdir: Path) -> None:
    from feeds.folder import ingest_folder
    from feeds.payments.load import refresh_aggregates
    from feeds.synthetic.generator import generate
    from jobs.cli_model import prepare_snapshots
    from models.base import Base
    from models.db import make_engine, session_factory, unit_of_work
    from scoring import registry
    from scoring.service import night_features
    from scoring.training import train_and_register

    business = date(2026, 11, 20)
    settings = load_settings(workdir=workdir)
    engine = make_engine(settings.database_url)
    Base.metadata.create_all(engine)
    sessions = session_factory(engine)
    start = time.perf_counter()
    feeds = generate(workdir / "drop", buyers=buyers, seed=7, business_date=business, history_years=5)
    with unit_of_work(sessions) as session:
        ingest_folder(session, workdir / "drop", store_dir=settings.payments_store_dir)
    print(f"oracle: generated and ingested {buyers:,} buyers in {time.perf_counter() - start:.1f} s")
    train_as_of = add_months(business, -12)
    with unit_of_work(sessions) as session:
        prepare_snapshots(session, settings, train_as_of)
    with unit_of_work(sessions) as session:
        report = train_and_register(session, as_of=train_as_of, settings=settings)
    print(f"oracle: trained {report.kind} as of {train_as_of} in {report.seconds:.1f} s ({report.why})")
    truth = pd.read_parquet(feeds.truth_dir / "true_pd_snapshots.parquet")
    truth["as_of"] = pd.to_datetime(truth["as_of"]).dt.date
    test_date = sorted(d for d in truth["as_of"].unique() if d <= train_as_of)[-1]
    with unit_of_work(sessions) as session:
        refresh_aggregates(session, store_dir=settings.payments_store_dir, as_of=test_date)
        features = night_features(session, as_of=test_date)
    champion = registry.load(settings, "champion")
    sample = truth[(truth["as_of"] == test_date) & ~truth["in_default"] & truth["default_within_12m"].notna()]
    flags = pd.read_parquet(feeds.truth_dir / "true_pd.parquet")[["buyer_id", "is_foreign"]]
    sample = sample.merge(flags, on="buyer_id")
    sample = sample[~sample["is_foreign"] & sample["buyer_id"].isin(features.index)]
    sample = sample[~features.loc[sample["buyer_id"], "collective_procedure"].to_numpy()]
    X = features.loc[sample["buyer_id"]]
    pd_model = champion.model.predict_pd(X)
    y = sample["default_within_12m"].astype(int).to_numpy()
    auc_m, auc_o = roc_auc_score(y, pd_model), roc_auc_score(y, sample["true_pd_12m"])
    brier_m, brier_o = brier_score_loss(y, pd_model), brier_score_loss(y, sample["true_pd_12m"])
    print(f"oracle: out-of-time sample {test_date}: {len(y):,} French buyers, {int(y.sum())} defaults")
    print(
        f"oracle: auc_model={auc_m:.4f} auc_oracle={auc_o:.4f} ratio={auc_m / auc_o:.4f} (target >= 0.98); "
        f"brier_model={brier_m:.5f} brier_oracle={brier_o:.5f} ratio={brier_m / brier_o:.4f} (target <= 1.05)"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--buyers", type=int, default=1_000_000)
    parser.add_argument("--oracle-buyers", type=int, default=20_000)
    parser.add_argument("--skip-oracle", action="store_true")
    parser.add_argument("--skip-speed", action="store_true")
    parser.add_argument("--kinds", default="hgb,logistic", help="model kinds timed by the speed test")
    parser.add_argument(
        "--workdir", type=Path, help="keep the oracle run's files here (default: a temp folder)"
    )
    args = parser.parse_args()
    if not args.skip_speed:
        for kind in args.kinds.split(","):
            speed(args.buyers, kind)
    if not args.skip_oracle and args.workdir:
        oracle(args.oracle_buyers, args.workdir)
    elif not args.skip_oracle:
        with tempfile.TemporaryDirectory() as tmp:
            oracle(args.oracle_buyers, Path(tmp))


if __name__ == "__main__":
    main()
