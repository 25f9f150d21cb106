"""Benchmark: the default rule set (31 rules) over 3,000,000 limits, joins included.

Prints, on synthetic tables shaped like the database reads (1M buyers, 3M limits):
  - joins + rules: :func:`arbitration.batch.evaluate_book`, what the nightly runs (the buyer side
    joined once, then chunks of limits joined and evaluated on every core);
  - the same in one thread: joins (:func:`arbitration.joins.build_frame`: policy terms,
    per-buyer legal state, positional joins) then rules (:func:`arbitration.engine.evaluate`,
    the whole-column engine, annotations included);
  - per-row: the same engine on one-row frames for a sample, extrapolated to every limit (what a
    per-record evaluation of the same rules would cost).
Target: joins + rules <= 3 s on a 2-core machine. Run: ``python benchmarks/rules.py [--limits N]``.
"""

from __future__ import annotations

import argparse
import dataclasses
import statistics
import time
from datetime import date

import numpy as np
import pandas as pd

from arbitration.batch import evaluate_book, threads_available
from arbitration.engine import evaluate
from arbitration.joins import InputTables, build_frame
from arbitration.params import load_params
from arbitration.rules import load_rule_set
from config.settings import CONFIG_DIR

AS_OF = date(2026, 11, 23)
NAF = ["29.10Z", "45.11Z", "10.11Z", "10.71C", "41.20A", "43.21A", "47.11Z", "46.90Z", "62.01Z", "70.22Z"]
COUNTRIES = ["FR"] * 14 + ["DE", "IT", "ES", "BR", "CN", "AF", "EG", "US"]
CATEGORY = {"BR": 3, "CN": 2, "AF": 7, "EG": 6}


def synthetic(limits: int, buyers: int, seed: int = 7) -> InputTables:
    rng = np.random.default_rng(seed)
    ids = pd.Series([f"B{i:08d}" for i in range(buyers)], dtype=object)
    buyer = pd.DataFrame(
        {
            "buyer_id": ids,
            "country": rng.choice(COUNTRIES, buyers),
            "naf_code": rng.choice(NAF, buyers),
            "buyer_status": rng.choice(["A", "C"], buyers, p=[0.995, 0.005]),
            "legal_category": rng.choice(["5710", "5499", "7210"], buyers, p=[0.7, 0.299, 0.001]),
            "creation_date": pd.to_datetime("1980-01-01")
            + pd.to_timedelta(rng.integers(0, 16_000, buyers), unit="D"),
        }
    )
    scored = rng.random(buyers) > 0.01
    grade = rng.choice(np.arange(1, 11), buyers, p=[0.05, 0.1, 0.15, 0.2, 0.18, 0.12, 0.08, 0.06, 0.04, 0.02])
    scores = pd.DataFrame(
        {
            "buyer_id": ids[scored].to_numpy(),
            "pd_12m": (0.001 * 1.9**grade)[scored],
            "grade": grade[scored],
            "rating": np.array(["AAA", "AA", "A", "BBB", "BB", "B", "CCC", "CC", "C", "D"])[grade - 1][
                scored
            ],
            "model_version": "3",
            "reason_codes": "DBT,EQ,AGE",
        }
    )
    filed = rng.random(buyers) > 0.05
    revenue = rng.lognormal(np.log(5e8), 1.2, buyers)  # cents: median 5M EUR
    equity = revenue * rng.uniform(0.05, 0.4, buyers) * rng.choice([1, -1], buyers, p=[0.97, 0.03])
    financials = pd.DataFrame(
        {
            "buyer_id": ids[filed].to_numpy(),
            "fiscal_year_end": pd.to_datetime(
                rng.choice(["2023-12-31", "2024-12-31", "2025-12-31"], filed.sum(), p=[0.03, 0.07, 0.9])
            ),
            "revenue_cents": revenue[filed].astype(np.int64),
            "equity_cents": equity[filed].astype(np.int64),
        }
    )
    payments = pd.DataFrame(
        {
            "buyer_id": ids,
            "days_beyond_terms": rng.gamma(1.2, 7, buyers),
            "overdue_share": rng.beta(1, 8, buyers),
            "overdue_declarations": rng.poisson(0.005, buyers),
            "dbt_trend_3m": rng.normal(0, 4, buyers),
        }
    )
    n_events = buyers // 20
    events = pd.DataFrame(
        {
            "buyer_id": ids.sample(n_events, replace=True, random_state=seed).to_numpy(),
            "event_type": rng.choice(
                [
                    "open_rj",
                    "open_lj",
                    "open_sauvegarde",
                    "conversion_lj",
                    "closure",
                    "plan",
                    "radiation",
                    "accounts_filed",
                ],
                n_events,
                p=[0.02, 0.02, 0.005, 0.005, 0.03, 0.01, 0.01, 0.9],
            ),
            "event_date": pd.to_datetime("2020-01-01")
            + pd.to_timedelta(rng.integers(0, 2_500, n_events), unit="D"),
            "accounts_closing_date": pd.NaT,
            "notice_id": [f"N{i}" for i in range(n_events)],
        }
    )
    requests = rng.choice([np.nan, 2, 3], limits, p=[0.99, 0.006, 0.004])
    buyer_of = rng.integers(0, buyers, limits)
    granted = (
        np.maximum(np.floor(revenue[buyer_of] * rng.uniform(0.001, 0.02, limits) / 100_000), 5) * 100_000
    )
    limit = pd.DataFrame(
        {
            "limit_id": np.arange(1, limits + 1),
            "policy_id": rng.integers(0, 50_000, limits).astype(str),
            "buyer_id": ids.to_numpy()[buyer_of],
            "granted_cents": granted.astype(np.int64),
            "requested_cents": np.where(
                np.isnan(requests), np.nan, rng.integers(10, 2000, limits) * 100_000.0
            ),
            "request_type": requests,
            "outstanding_cents": 0,
            "limit_status": "active",
            "limit_effective_date": pd.NaT,
        }
    )
    # the terms are read once per policy and joined on, as the nightly does
    policies = pd.DataFrame(
        {
            "policy_id": np.arange(50_000).astype(str),
            "policyholder_id": rng.integers(0, 40_000, 50_000).astype(str),
            "territory": "BOTH",
            "named_threshold_domestic_cents": 500_000,
            "named_threshold_export_cents": 1_000_000,
            "oal_option": False,
        }
    )
    countries = pd.DataFrame({"country": list(CATEGORY), "category": list(CATEGORY.values())})
    tables = (
        limit,
        buyer,
        financials,
        scores,
        events,
        payments,
        countries,
        pd.DataFrame({"limit_id": []}),
        policies,
    )
    return InputTables(*(as_read(table) for table in tables))


def as_read(table: pd.DataFrame) -> pd.DataFrame:
    """``table`` typed as :func:`models.db.read_frame` returns it: text in pandas' default
    string dtype (Arrow-backed), dates as ``datetime.date`` objects (None when missing). The
    joins' cost depends on these types: Python string ids cost conversions the nightly never
    pays, and date objects cost copies that ``datetime64`` columns would not."""
    out = table.copy()
    for column in out.columns:
        values = out[column]
        if values.dtype == object:
            out[column] = values.astype("str")
        elif pd.api.types.is_datetime64_any_dtype(values):
            days = pd.Series(values.dt.date.to_numpy(dtype=object), index=out.index, dtype=object)
            out[column] = days.where(values.notna(), None)
    return out


def steady(tables: InputTables, first: pd.DataFrame, seed: int = 11) -> InputTables:
    """The next night: yesterday's proposals applied (cancelled limits leave the book), then 1 %
    of buyers get worse news; yesterday's referrals wait for their arbiter (two grades down, 40 more days beyond terms) and 1 % of limits carry
    a new request. Most limits do not move, as on a real night."""
    rng = np.random.default_rng(seed)
    kept = first["proposed_cents"].to_numpy() > 0
    applied = first["automatic"].to_numpy()
    limits = tables.limits.assign(
        granted_cents=np.where(applied, first["proposed_cents"], tables.limits["granted_cents"]),
        limit_effective_date=pd.to_datetime(first["effective_date"].where(applied, None)),
        request_type=np.nan,
        requested_cents=np.nan,
    )[kept].reset_index(drop=True)
    referred = pd.DataFrame({"limit_id": first.loc[first["referred"], "limit_id"].to_numpy()})
    asks = rng.random(len(limits)) < 0.01
    limits.loc[asks, "request_type"] = 3
    limits.loc[asks, "requested_cents"] = limits.loc[asks, "granted_cents"] * 1.5
    worse = rng.random(len(tables.scores)) < 0.01
    scores = tables.scores.assign(
        grade=np.where(worse, np.minimum(tables.scores["grade"] + 2, 10), tables.scores["grade"])
    )
    hit = rng.random(len(tables.payments)) < 0.01
    payments = tables.payments.assign(
        days_beyond_terms=tables.payments["days_beyond_terms"] + np.where(hit, 40.0, 0.0)
    )
    return dataclasses.replace(
        tables, limits=as_read(limits), scores=scores, payments=payments, open_referrals=referred
    )


@dataclasses.dataclass
class Timing:
    book: float
    """Median seconds of :func:`arbitration.batch.evaluate_book` (what the nightly runs)."""
    book_cold: float
    joins: float
    rules: float
    """Medians of the same work in one thread: build_frame, then evaluate."""
    frame: pd.DataFrame
    result: pd.DataFrame


def measure(tables: InputTables, repeat: int, rule_set, params) -> Timing:
    """Median seconds over ``repeat`` runs. For :func:`evaluate_book`, after a first, cold one
    (returned apart: fresh memory is page-faulted in, lazy imports and thread pools start); the
    one-thread split runs first in the process, so its first run is that cold one."""
    book, joins, rules = [], [], []
    # the one-thread split first: run after the threads, it reads slower (memory the threads'
    # allocator arenas keep is touched again), which would overstate the threads' gain
    for _ in range(repeat):
        start = time.perf_counter()
        frame = build_frame(tables)
        middle = time.perf_counter()
        evaluate(frame, rule_set, as_of=AS_OF, params=params)
        joins.append(middle - start)
        rules.append(time.perf_counter() - middle)
    for _ in range(repeat + 1):
        start = time.perf_counter()
        result = evaluate_book(tables, rule_set, as_of=AS_OF, params=params)
        book.append(time.perf_counter() - start)
    return Timing(
        statistics.median(book[1:]),
        book[0],
        statistics.median(joins),
        statistics.median(rules),
        frame,
        result,
    )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--limits", type=int, default=3_000_000)
    parser.add_argument("--buyers", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--sample", type=int, default=300, help="limits evaluated one row at a time")
    args = parser.parse_args()
    rule_set = load_rule_set(CONFIG_DIR / "rules")
    params = load_params(CONFIG_DIR / "arbitration.yaml")
    tables = synthetic(args.limits, args.buyers)
    print(
        f"rule set: {len(rule_set.rules)} rules, {len(rule_set.desks)} desks; {threads_available()} threads"
    )
    first = measure(tables, args.repeat, rule_set, params)
    night = steady(tables, first.result)
    for name, timing in (
        ("first night (book never arbitrated)", first),
        ("steady night (yesterday applied)", measure(night, args.repeat, rule_set, params)),
    ):
        decided = timing.result[timing.result["decision"]]
        print(
            f"{name}: {len(timing.frame):,} limits, {len(decided):,} decisions "
            f"({int(decided['referred'].sum()):,} referred)"
        )
        print(
            f"  joins + rules (evaluate_book): {timing.book:6.2f} s (target <= 3 s; median of {args.repeat} "
            f"after a cold run of {timing.book_cold:.2f} s)"
        )
        print(
            f"  in one thread: joins (build_frame) {timing.joins:6.2f} s + rules (evaluate) {timing.rules:6.2f} s "
            f"= {timing.joins + timing.rules:6.2f} s"
        )
    frame = first.frame
    sample = frame.sample(args.sample, random_state=1).reset_index(drop=True)
    start = time.perf_counter()
    for index in range(len(sample)):
        evaluate(sample.iloc[[index]], rule_set, as_of=AS_OF, params=params)
    per_row = (time.perf_counter() - start) / len(sample)
    print(
        f"per-row, same engine on one-row frames: {per_row * 1e3:.2f} ms/limit on {len(sample)} limits -> "
        f"{per_row * len(frame):,.0f} s extrapolated to {len(frame):,} limits"
    )


if __name__ == "__main__":
    main()
