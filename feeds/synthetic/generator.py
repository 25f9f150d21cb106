"""Write a whole synthetic drop folder (every feed, in its real layout) plus the hidden truth.

The drop folder is what a night receives; the truth folder is what a scoring benchmark compares
itself against and the product never reads: the true 12-month PD of every buyer at the business
date and at each yearly snapshot of the history, and the default dates."""

from __future__ import annotations

import shutil
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

import numpy as np
import polars as pl

from feeds.synthetic import legal, payments, portfolio, registry
from feeds.synthetic import reference as ref
from feeds.synthetic.population import Population, draw_population
from feeds.synthetic.registry import days_to_dates

PORTFOLIO_ENTITIES = ("policyholders", "policies", "buyers", "limits", "requests", "outstanding")


@dataclass(frozen=True)
class GeneratedFeeds:
    """Where the files went and how many records each holds."""

    out_dir: Path
    truth_dir: Path
    business_date: date
    files: dict[str, Path] = field(default_factory=dict)
    """source or ``portfolio_<entity>`` -> file path"""
    counts: dict[str, int] = field(default_factory=dict)
    """same keys -> records written; plus ``buyers``, ``limits`` (= ``portfolio_limits``) and
    ``defaults`` (defaults drawn over the history, French and foreign)"""


def generate(
    out_dir: Path,
    *,
    buyers: int,
    seed: int = 7,
    business_date: date,
    history_years: int = 3,
    limits_per_buyer: float = 3.0,
    payments_per_buyer: float = 10.0,
    truth_dir: Path | None = None,
) -> GeneratedFeeds:
    """Write every feed of ``buyers`` buyers for ``business_date`` into ``out_dir``.

    Deterministic for a given ``seed`` and arguments. About 20 % of buyers are foreign (in the
    portfolio's buyer file), the rest French (in the Sirene stock). ``truth_dir`` (default
    ``out_dir.parent / "truth"``) receives, for benchmarks only:

    - ``true_pd.parquet``: one row per buyer: ``buyer_id``, ``is_foreign``, ``true_pd_12m`` (as of
      the business date) and ``in_default`` (defaulted during the history);
    - ``true_pd_snapshots.parquet``: one row per (existing buyer, yearly snapshot): ``buyer_id``,
      ``as_of`` (the business date minus k years, k = history_years..0), ``true_pd_12m`` at that
      date, ``in_default`` (already defaulted before it) and ``default_within_12m`` (null for the
      business date itself): an out-of-time sample with the oracle PD;
    - ``defaults.parquet``: ``buyer_id``, ``default_date`` (the opening judgment's date for a
      French buyer), ``procedure`` (redressement, liquidation, sauvegarde)."""
    if buyers < 10:
        raise ValueError(f"buyers: expected at least 10, found {buyers}")
    if history_years < 1:
        raise ValueError(f"history_years: expected at least 1, found {history_years}")
    out_dir = Path(out_dir)
    truth_dir = Path(truth_dir) if truth_dir is not None else out_dir.parent / "truth"
    out_dir.mkdir(parents=True, exist_ok=True)
    truth_dir.mkdir(parents=True, exist_ok=True)
    streams = [np.random.default_rng(s) for s in np.random.SeedSequence(seed).spawn(8)]
    tag = business_date.isoformat()

    pop = draw_population(streams[0], buyers=buyers, business_date=business_date, history_years=history_years)
    ids = buyer_ids(pop)
    schedule = legal.schedule(streams[1], pop)
    sirene = registry.sirene_frame(streams[2], pop, schedule.radiation_day)
    financials = registry.financials_frame(streams[3], pop)
    book = portfolio.build(streams[4], pop, ids, limits_per_buyer=limits_per_buyer)
    pay = payments.payments_frame(streams[5], pop, book, ids, payments_per_buyer=payments_per_buyer)
    notices = legal.notices(streams[6], pop, schedule, sirene, financials)

    files: dict[str, Path] = {}
    counts: dict[str, int] = {}

    def _csv(key: str, name: str, frame: pl.DataFrame) -> None:
        files[key] = out_dir / name
        frame.write_csv(files[key], date_format="%Y-%m-%d", float_precision=None)
        counts[key] = frame.height

    _csv("registry", f"StockUniteLegale_{tag}.csv", sirene)
    _csv("financials", f"financials_{tag}.csv", financials)
    files["legal"] = out_dir / f"bodacc_{tag}.json"
    counts["legal"] = legal.write_bodacc(files["legal"], streams[7], notices, _bodacc_buyers(pop, sirene))
    files["payments"] = out_dir / f"payments_{tag}.parquet"
    pay.write_parquet(files["payments"], compression="zstd", compression_level=1, statistics=False)
    counts["payments"] = pay.height
    files["country"] = out_dir / f"oecd_{tag}.csv"
    shutil.copyfile(ref.oecd_table_path(), files["country"])
    counts["country"] = pl.read_csv(files["country"], infer_schema=False).height
    for entity in PORTFOLIO_ENTITIES:
        _csv(f"portfolio_{entity}", f"portfolio_{entity}_{tag}.csv", book.frames[entity])

    counts["buyers"] = pop.n
    counts["limits"] = counts["portfolio_limits"]
    counts["defaults"] = int((pop.default_day >= 0).sum())
    write_truth(truth_dir, pop, ids)
    return GeneratedFeeds(
        out_dir=out_dir, truth_dir=truth_dir, business_date=business_date, files=files, counts=counts
    )


def buyer_ids(pop: Population) -> pl.Series:
    """SIREN for French buyers, ``<ISO2>-<local id>`` for foreign ones."""
    siren = pl.Series(pop.siren).cast(pl.String).str.zfill(9)
    local = (
        ref.labels(ref.COUNTRIES, pop.country)
        + "-"
        + pl.Series(np.arange(pop.n) + 10_000_000).cast(pl.String)
    )
    return (
        pl.select(pl.when(pl.Series(pop.is_foreign)).then(local).otherwise(siren))
        .to_series()
        .alias("buyer_id")
    )


def _bodacc_buyers(pop: Population, sirene: pl.DataFrame) -> pl.DataFrame:
    """The identity columns a BODACC notice repeats, keyed by buyer index."""
    legal_forms = pl.col("categorieJuridiqueUniteLegale").replace_strict(
        ref.LEGAL_FORM_LABELS, default="Société"
    )
    return sirene.select(
        pl.Series("buyer", np.flatnonzero(~pop.is_foreign)),
        pl.col("siren"),
        pl.coalesce("denominationUniteLegale", "nomUniteLegale").alias("name"),
        pl.col("prenomUsuelUniteLegale").alias("first_name"),
        legal_forms.alias("legal_form"),
        (pl.col("categorieJuridiqueUniteLegale") == ref.SOLE_TRADER).alias("sole"),
        pl.Series("department", pop.department[~pop.is_foreign]),
    )


def write_truth(truth_dir: Path, pop: Population, ids: pl.Series) -> None:
    """The hidden truth: PD at the business date, PD at each yearly snapshot, default dates."""
    default = pop.default_day
    has_default = default >= 0
    default_date = days_to_dates(np.where(has_default, default, 0))
    last = pop.pd_12m.shape[1] - 1
    pl.DataFrame(
        {
            "buyer_id": ids,
            "is_foreign": pop.is_foreign,
            "true_pd_12m": pop.pd_12m[:, last],
            "in_default": has_default,
        }
    ).write_parquet(truth_dir / "true_pd.parquet")
    pl.DataFrame({"buyer_id": ids, "default_date": default_date, "procedure": pop.procedure}).filter(
        pl.Series(has_default)
    ).with_columns(
        procedure=pl.col("procedure").replace_strict({1: "redressement", 2: "liquidation", 3: "sauvegarde"})
    ).write_parquet(truth_dir / "defaults.parquet")

    snapshots = []
    for j, start in enumerate(pop.period_starts):
        end = pop.period_starts[j + 1] if j < last else None
        before = has_default & (default < start)
        within = (has_default & (default >= start) & (default < end)) if end is not None else None
        snapshots.append(
            pl.DataFrame(
                {
                    "buyer_id": ids,
                    "as_of": days_to_dates(np.full(pop.n, start)),
                    "true_pd_12m": pop.pd_12m[:, j],
                    "in_default": before,
                    "default_within_12m": pl.Series(within, dtype=pl.Boolean) if within is not None else None,
                }
            ).filter(pl.Series(pop.creation_day <= start))  # a buyer appears once it exists
        )
    pl.concat(snapshots, how="vertical_relaxed").write_parquet(truth_dir / "true_pd_snapshots.parquet")
