"""Registry feeds: the INSEE ``StockUniteLegale`` rows and the yearly key figures of French buyers.

Financial statements are noisy readings of each buyer's hidden yearly state (see
``population``); filing dates follow French practice (3 to 7 months after year end), a few
companies file late or never, sole traders publish none, and a company stops filing once it
has defaulted, so "late accounts" carry real information as they do in production."""

from __future__ import annotations

import numpy as np
import polars as pl

from feeds.synthetic import reference as ref
from feeds.synthetic.population import FILING_WINDOW_DAYS, Population, month_ends


def days_to_dates(days: np.ndarray) -> pl.Series:
    """Day numbers -> a polars Date series."""
    return pl.Series(days.astype(np.int32)).cast(pl.Date)


def _pick(rng: np.random.Generator, values: np.ndarray, n: int) -> pl.Series:
    """``n`` strings drawn uniformly from ``values``."""
    return ref.labels(values, rng.integers(0, len(values), n))


def buyer_names(rng: np.random.Generator, n: int) -> pl.Series:
    """Company names such as ``TRANSPORTS MOREL`` or ``ATELIERS DE BRETAGNE``."""
    tails = np.concatenate([ref.SURNAMES, ref.NAME_PLACES])
    tail = np.where(
        rng.random(n) < 0.55,
        rng.integers(0, len(ref.SURNAMES), n),
        len(ref.SURNAMES) + rng.integers(0, len(ref.NAME_PLACES), n),
    )
    return _pick(rng, ref.NAME_PREFIXES, n) + " " + ref.labels(tails, tail)


def _choice(rng: np.random.Generator, values: np.ndarray, weights: np.ndarray, n: int) -> np.ndarray:
    return values[
        np.searchsorted(np.cumsum(weights / weights.sum()), rng.random(n), side="right").clip(
            0, len(values) - 1
        )
    ]


def sirene_frame(rng: np.random.Generator, pop: Population, radiation_day: np.ndarray) -> pl.DataFrame:
    """The 35-column ``StockUniteLegale`` rows of the French buyers (all text, nulls = empty)."""
    dom = np.flatnonzero(~pop.is_foreign)
    n = len(dom)
    size = pop.size[dom]
    sole = size == 0
    legal = rng.choice(len(ref.LEGAL_CATEGORIES), size=n, p=ref.LEGAL_CATEGORY_WEIGHTS)
    legal_codes = (*ref.LEGAL_CATEGORIES, ref.SOLE_TRADER)
    legal[sole] = len(ref.LEGAL_CATEGORIES)
    band_codes = sorted({c for codes, _ in ref.HEADCOUNT_BANDS for c in codes})
    band = np.zeros(n, dtype=np.int64)
    for index, (codes, weights) in enumerate(ref.HEADCOUNT_BANDS):
        rows = size == index
        band[rows] = np.searchsorted(band_codes, _choice(rng, codes, weights, int(rows.sum())))
    female = rng.random(n) < 0.4
    first_names = np.concatenate([ref.FIRST_NAMES_M, ref.FIRST_NAMES_F])
    first = rng.integers(0, len(ref.FIRST_NAMES_M), n) + female * len(ref.FIRST_NAMES_M)
    business_year = int(str(np.datetime64(int(pop.business_day), "D"))[:4])
    creation = pop.creation_day[dom]
    debut = creation + (rng.random(n) * (pop.business_day - creation)).astype(np.int64)
    treated = pop.business_day - rng.integers(1, 700, n)
    clock = _pick(rng, np.array(["T03:12:45", "T05:00:06", "T14:17:15", "T22:41:09"]), n)
    radiated = (radiation_day[dom] >= 0) & (radiation_day[dom] <= pop.business_day)
    null = pl.lit(None, dtype=pl.String)

    frame = pl.DataFrame(
        {
            "siren": pl.Series(pop.siren[dom]).cast(pl.String).str.zfill(9),
            "dateCreationUniteLegale": days_to_dates(creation).cast(pl.String),
            "sexeUniteLegale": ref.labels(("M", "F"), female),
            "prenom": ref.labels(first_names, first),
            "trancheEffectifsUniteLegale": ref.labels(band_codes, band),
            "dateDernierTraitementUniteLegale": days_to_dates(treated).cast(pl.String) + clock,
            "nombrePeriodesUniteLegale": pl.Series(rng.integers(1, 7, n)).cast(pl.String),
            "categorieEntreprise": ref.labels(ref.SIZE_LABELS, np.maximum(size, 1)),
            "dateDebut": days_to_dates(debut).cast(pl.String),
            "etatAdministratifUniteLegale": ref.labels(("A", "C"), radiated),
            "nomUniteLegale": _pick(rng, ref.SURNAMES, n),
            "denominationUniteLegale": buyer_names(rng, n),
            "categorieJuridiqueUniteLegale": ref.labels(legal_codes, legal),
            "activitePrincipaleUniteLegale": ref.naf_codes()["naf_code"].gather(pop.naf_code[dom]),
            "nicSiegeUniteLegale": pl.Series(rng.integers(10, 400, n)).cast(pl.String).str.zfill(5),
            "sole": pl.Series(sole),
        }
    )
    year_text = str(business_year - 2)
    person = pl.col("sole")
    return frame.select(
        pl.col("siren"),
        pl.lit("O").alias("statutDiffusionUniteLegale"),
        null.alias("unitePurgeeUniteLegale"),
        pl.col("dateCreationUniteLegale"),
        null.alias("sigleUniteLegale"),
        pl.when(person).then(pl.col("sexeUniteLegale")).alias("sexeUniteLegale"),
        pl.when(person).then(pl.col("prenom")).alias("prenom1UniteLegale"),
        null.alias("prenom2UniteLegale"),
        null.alias("prenom3UniteLegale"),
        null.alias("prenom4UniteLegale"),
        pl.when(person).then(pl.col("prenom")).alias("prenomUsuelUniteLegale"),
        null.alias("pseudonymeUniteLegale"),
        null.alias("identifiantAssociationUniteLegale"),
        pl.col("trancheEffectifsUniteLegale"),
        pl.when(pl.col("trancheEffectifsUniteLegale") != "NN")
        .then(pl.lit(year_text))
        .alias("anneeEffectifsUniteLegale"),
        pl.col("dateDernierTraitementUniteLegale"),
        pl.col("nombrePeriodesUniteLegale"),
        pl.col("categorieEntreprise"),
        pl.lit(year_text).alias("anneeCategorieEntreprise"),
        pl.col("dateDebut"),
        pl.col("etatAdministratifUniteLegale"),
        pl.when(person).then(pl.col("nomUniteLegale")).alias("nomUniteLegale"),
        null.alias("nomUsageUniteLegale"),
        pl.when(~person).then(pl.col("denominationUniteLegale")).alias("denominationUniteLegale"),
        null.alias("denominationUsuelle1UniteLegale"),
        null.alias("denominationUsuelle2UniteLegale"),
        null.alias("denominationUsuelle3UniteLegale"),
        pl.col("categorieJuridiqueUniteLegale"),
        pl.col("activitePrincipaleUniteLegale"),
        pl.lit("NAFRev2").alias("nomenclatureActivitePrincipaleUniteLegale"),
        pl.col("nicSiegeUniteLegale"),
        pl.lit("N").alias("economieSocialeSolidaireUniteLegale"),
        pl.when(~person).then(pl.lit("N")).alias("societeMissionUniteLegale"),
        pl.when(pl.col("trancheEffectifsUniteLegale") == "NN")
        .then(pl.lit("N"))
        .otherwise(pl.lit("O"))
        .alias("caractereEmployeurUniteLegale"),
        null.alias("activitePrincipaleNAF25UniteLegale"),
    )


def financials_frame(rng: np.random.Generator, pop: Population) -> pl.DataFrame:
    """Key figures per (French company, fiscal year) known at the business date.

    Fiscal years close on a month end (December for most); the figures of a year read the
    buyer's state in the period where its normal filing window ends (``FILING_WINDOW_DAYS``
    after the close), so the accounts that drive a year's true PD are on file when it starts
    (see ``population``). A filing is dropped when it is not yet
    made at the business date, or when it would come after (or just before) the buyer's default."""
    eligible = np.flatnonzero(pop.publishes)
    n = len(eligible)
    periods = len(pop.period_starts)
    fye_month = rng.choice([12, 6, 9, 3, 7], size=n, p=[0.72, 0.1, 0.08, 0.06, 0.04])
    first_year = int(str(np.datetime64(int(pop.period_starts[0]), "D"))[:4]) - 1
    last_year = int(str(np.datetime64(int(pop.business_day), "D"))[:4])
    late_filer = rng.random(n) < (0.06 + 0.25 * (pop.quality[eligible, -1] < -1.5))

    # (buyer, year) grids, flattened buyer-major so each company's years come out in order.
    years = np.arange(first_year, last_year + 1)
    close = month_ends(np.broadcast_to(years, (n, len(years))), fye_month[:, None])
    window_end = close + FILING_WINDOW_DAYS
    j = np.clip(np.searchsorted(pop.period_starts, window_end, side="right") - 1, 0, periods - 1)
    delay = np.where(
        late_filer[:, None], rng.integers(240, 540, close.shape), rng.integers(90, 215, close.shape)
    )
    filed = close + delay
    default = pop.default_day[eligible][:, None]
    keep = (
        (filed <= pop.business_day)
        & (close >= pop.period_starts[0] - 366)
        & (close - pop.creation_day[eligible][:, None] > 300)
        & ((default < 0) | (filed < default - 120))
    )
    row, col = np.nonzero(keep)
    buyer, close, filed, j = eligible[row], close[row, col], filed[row, col], j[row, col]
    m = len(buyer)

    revenue = np.exp(pop.log_revenue[buyer] + 0.06 * pop.quality[buyer, j] + rng.normal(0, 0.05, m))
    assets = revenue * np.exp(rng.normal(-0.3, 0.35, m))
    net = pop.margin[buyer, j] * revenue
    headcount = np.maximum(1, np.round(revenue / rng.uniform(120_000, 250_000, m))).astype(np.int64)
    return pl.DataFrame(
        {
            "siren": pl.Series(pop.siren[buyer]).cast(pl.String).str.zfill(9),
            "date_cloture_exercice": days_to_dates(close),
            "date_depot": days_to_dates(filed),
            "duree_exercice": np.full(m, 12, dtype=np.int64),
            "chiffre_affaires": np.round(revenue).astype(np.int64),
            "resultat_net": np.round(net).astype(np.int64),
            "resultat_exploitation": np.round(net * 1.25 + 0.01 * revenue).astype(np.int64),
            "capitaux_propres": np.round(pop.equity_ratio[buyer, j] * assets).astype(np.int64),
            "total_bilan": np.round(assets).astype(np.int64),
            "dettes_financieres": np.round(pop.leverage[buyer, j] * assets).astype(np.int64),
            "effectif": pl.Series(np.where(rng.random(m) < 0.2, np.nan, headcount))
            .fill_nan(None)
            .cast(pl.Int64),
        }
    )
