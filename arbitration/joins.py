"""The limit frame's joins (pure): per-buyer legal state and the positional joins of every
open limit with its buyer's latest facts.

Done by position on a buyer index rather than by repeated string merges, which is what keeps
three million limits inside the time budget; per-buyer text travels as categorical codes. The
reads that feed these joins are in :mod:`arbitration.inputs`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

import numpy as np
import pandas as pd
import polars as pl
import pyarrow as pa

from models.codes import COLLECTIVE_OPENINGS, LIQUIDATION_EVENTS, LegalEventType


@dataclass(frozen=True)
class InputTables:
    """Raw reads, one frame per source, already cut at the business date."""

    limits: pd.DataFrame
    buyers: pd.DataFrame
    financials: pd.DataFrame
    scores: pd.DataFrame
    events: pd.DataFrame
    payments: pd.DataFrame
    countries: pd.DataFrame
    open_referrals: pd.DataFrame
    policies: pd.DataFrame
    """Policy terms: ``policy_id`` and :data:`POLICY_COLUMNS`, read once per policy."""


POLICY_COLUMNS = [
    "policyholder_id",
    "territory",
    "named_threshold_domestic_cents",
    "named_threshold_export_cents",
    "oal_option",
]


PROCEDURE_EVENTS = [str(e) for e in COLLECTIVE_OPENINGS] + [
    LegalEventType.CLOSURE.value,
    LegalEventType.PLAN.value,
]


DATETIME: Final = "datetime64[us]"
"""The limit frame's date columns: microseconds, whose range holds every calendar date (the
nanoseconds pandas used to default to end in 2262 and would wrap a 9999-12-31 validity date)."""


def datetimes(values: pd.Series) -> pd.Series:
    """``values`` (dates as objects or text, timestamps) as naive :data:`DATETIME`, NaT where
    missing or unreadable (aware timestamps in UTC). Each distinct value is converted once: a
    column of millions of ``date`` objects holds a few thousand days, and Python objects would
    otherwise be copied one by one through every join."""
    if isinstance(values.dtype, pd.DatetimeTZDtype):
        values = values.dt.tz_convert("UTC").dt.tz_localize(None)
    if pd.api.types.is_datetime64_dtype(values):
        return values.astype(DATETIME)
    codes, uniques = pd.factorize(values)
    converted = pd.to_datetime(pd.Series(np.asarray(uniques, dtype=object)), errors="coerce", utc=True)
    naive = converted.dt.tz_localize(None).astype(DATETIME).to_numpy()
    days = np.append(naive, np.datetime64("NaT", "us"))  # code -1 (missing): the NaT
    return pd.Series(days[codes], index=values.index)


def reduce_events(events: pd.DataFrame) -> pd.DataFrame:
    """Per buyer: the open procedure (sauvegarde / rj / lj, or none), radiation, last accounts.

    A procedure is open when the latest of its openings, conversions, closures and plans is an
    opening or a conversion; its kind is the latest opening or conversion (a conversion to LJ
    makes it a liquidation)."""
    if events.empty:  # typed like a filled result: text, flag, date
        return pd.DataFrame(
            {
                "buyer_id": pd.Series([], dtype=object),
                "procedure": pd.Series([], dtype=object),
                "radiated": pd.Series([], dtype=bool),
                "accounts_date": pd.Series([], dtype=DATETIME),
            }
        )
    ev = events.assign(event_date=datetimes(events["event_date"]))
    ev = ev.sort_values(["buyer_id", "event_date", "notice_id"], kind="stable")
    proc = ev[ev["event_type"].isin(PROCEDURE_EVENTS)]
    last = proc.drop_duplicates("buyer_id", keep="last").set_index("buyer_id")["event_type"]
    kind = pd.Series(None, index=last.index, dtype=object)
    liquidation = {str(e) for e in LIQUIDATION_EVENTS}
    kind[last.isin(liquidation)] = "lj"
    kind[last.isin([LegalEventType.OPEN_RJ.value, LegalEventType.CONVERSION_RJ.value])] = "rj"
    kind[last == LegalEventType.OPEN_SAUVEGARDE.value] = "sauvegarde"
    radiated = ev.loc[ev["event_type"] == LegalEventType.RADIATION.value, "buyer_id"].unique()
    accounts = ev[ev["event_type"] == LegalEventType.ACCOUNTS_FILED.value]
    accounts_date = (
        datetimes(accounts["accounts_closing_date"])
        .fillna(accounts["event_date"])
        .groupby(accounts["buyer_id"])
        .max()
    )
    index = kind.index.union(pd.Index(radiated)).union(accounts_date.index)
    return pd.DataFrame(
        {
            "buyer_id": index,
            "procedure": kind.reindex(index).to_numpy(),
            "radiated": index.isin(radiated),
            "accounts_date": accounts_date.reindex(index).to_numpy(),
        }
    )


class KeyIndex:
    """Positions of string keys (buyer ids) in a reference list, by 64-bit hashes.

    Why: hashing three million Python/Arrow strings through a pandas index costs seconds on
    this kind of machine; polars hashes whole string columns in tens of milliseconds and the
    lookup becomes a binary search over integers. A second, independent hash confirms every
    match, so a hash collision can only turn a match into a miss, never into a wrong buyer;
    if the reference keys themselves collide, the plain pandas lookup is used instead."""

    def __init__(self, keys: pd.Series) -> None:
        self.keys = pd.Index(keys.astype(object) if len(keys) == 0 else keys)
        first, self.second = _hashes(keys)
        self.table = pd.Index(first)
        self.exact = bool(self.table.is_unique)

    def positions(self, keys: pd.Series) -> np.ndarray:
        """Position of each key in the reference list, -1 when absent."""
        if len(keys) == 0 or len(self.table) == 0:
            return np.full(len(keys), -1, dtype=np.int64)
        if not self.exact:
            return self.keys.get_indexer(pd.Index(keys))
        first, second = _hashes(keys)
        candidate = self.table.get_indexer(first)
        found = (candidate >= 0) & (self.second[np.where(candidate >= 0, candidate, 0)] == second)
        return np.where(found, candidate, -1)


def _hashes(keys: pd.Series) -> tuple[np.ndarray, np.ndarray]:
    series = pl.Series(pa.array(keys, from_pandas=True))
    return series.hash(seed=11).to_numpy().view(np.int64), series.hash(seed=97).to_numpy().view(np.int64)


TEXT_COLUMNS = frozenset({"rating", "model_version", "reason_codes", "procedure"})
"""Per-buyer text the limit frame carries as categoricals."""


def _scatter(
    size: int, position: np.ndarray, table: pd.DataFrame, columns: list[str]
) -> dict[str, pd.Series]:
    """Columns of a per-buyer table placed at their buyer's position (missing buyers -> NA)."""
    known = position >= 0
    out: dict[str, pd.Series] = {}
    for column in columns:
        values = table[column]
        if column in TEXT_COLUMNS:
            # text as a categorical whatever its dtype: the codes are scattered, not a million
            # Python strings
            codes, categories = pd.factorize(values, sort=True)
            placed = np.full(size, -1, dtype=codes.dtype)
            placed[position[known]] = codes[known]
            out[column] = pd.Series(pd.Categorical.from_codes(placed, categories=pd.Index(categories)))
            continue
        if pd.api.types.is_bool_dtype(values):
            full: np.ndarray = np.zeros(size, dtype=bool)
        elif pd.api.types.is_numeric_dtype(values):
            full = np.full(size, np.nan)
        elif pd.api.types.is_datetime64_any_dtype(values):
            full = np.full(size, np.datetime64("NaT"), dtype=DATETIME)
            values = values.astype(DATETIME)
        else:  # e.g. a measure without any value: objects, typed later by the engine
            full = np.full(size, None, dtype=object)
        full[position[known]] = values.to_numpy()[known]
        out[column] = pd.Series(full, dtype=full.dtype)
    return out


def _oecd_category(country: pd.Series, countries: pd.DataFrame) -> np.ndarray:
    """The OECD category of each buyer's country (NaN when unknown), looked up once per
    distinct country of the categorical, then spread by its codes."""
    category = pd.Series(
        pd.to_numeric(countries["category"], errors="coerce").to_numpy(), index=countries["country"]
    )
    by_code = pd.Series(country.cat.categories).map(category).to_numpy(dtype="float64", na_value=np.nan)
    codes = country.cat.codes.to_numpy()
    return np.where(codes >= 0, by_code[np.maximum(codes, 0)] if len(by_code) else np.nan, np.nan)


def _with_policy_terms(limits: pd.DataFrame, policies: pd.DataFrame) -> pd.DataFrame:
    """``limits`` with the terms of its policy on each row (a limit whose policy is unknown
    cannot be decided: it is an error, as the database's foreign key makes it impossible)."""
    policies = policies.reset_index(drop=True)
    position = KeyIndex(policies["policy_id"]).positions(limits["policy_id"])
    if (position < 0).any():
        missing = sorted(set(limits.loc[position < 0, "policy_id"].astype(str)))[:5]
        raise ValueError(f"expected every limit's policy in the policy table, missing {missing}")
    terms = policies[POLICY_COLUMNS].take(position).reset_index(drop=True)
    return pd.concat([limits, terms], axis=1)


@dataclass(frozen=True)
class BuyerSide:
    """Everything the limit frame takes from its buyer, one row per buyer, and the index that
    finds a buyer's row: built once, then joined onto any number of limit chunks."""

    frame: pd.DataFrame
    index: KeyIndex


def buyer_side(tables: InputTables) -> BuyerSide:
    """Per buyer: latest accounts, score, payment behaviour, legal state and registry facts."""
    buyers = tables.buyers.reset_index(drop=True)
    index = KeyIndex(buyers["buyer_id"])
    size = len(buyers)
    parts: dict[str, pd.Series] = {}
    for table, columns in (
        (tables.financials, ["revenue_cents", "equity_cents", "fiscal_year_end"]),
        (tables.scores, ["pd_12m", "grade", "rating", "model_version", "reason_codes"]),
        (tables.payments, ["days_beyond_terms", "overdue_share", "overdue_declarations", "dbt_trend_3m"]),
        (reduce_events(tables.events), ["procedure", "radiated", "accounts_date"]),
    ):
        rows = table.reset_index(drop=True)
        fixed = rows.assign(
            **{c: datetimes(rows[c]) for c in ("fiscal_year_end", "accounts_date") if c in rows}
        )
        parts |= _scatter(size, index.positions(rows["buyer_id"]), fixed, columns)
    per_buyer = pd.DataFrame(parts)
    for column in ("country", "naf_code", "buyer_status", "legal_category"):
        per_buyer[column] = buyers[column].astype("category")
    per_buyer["creation_date"] = datetimes(buyers["creation_date"])
    per_buyer["oecd_category"] = _oecd_category(per_buyer["country"], tables.countries)
    fiscal = per_buyer.pop("fiscal_year_end")
    filed = per_buyer.pop("accounts_date")
    per_buyer["last_accounts_date"] = fiscal.where(fiscal >= filed.fillna(fiscal), filed).fillna(filed)
    per_buyer["radiated"] = per_buyer["radiated"].fillna(False).astype(bool)
    return BuyerSide(per_buyer, index)


def join_limits(limits: pd.DataFrame, side: BuyerSide, tables: InputTables) -> pd.DataFrame:
    """The limit frame of ``limits`` (all of ``tables.limits`` or a chunk of it): each limit
    with its policy's terms, its buyer's row of ``side`` and whether a referral is open."""
    limits = _with_policy_terms(limits.reset_index(drop=True), tables.policies)
    if "limit_effective_date" in limits:
        limits["limit_effective_date"] = datetimes(limits["limit_effective_date"])
    position = side.index.positions(limits["buyer_id"])
    known = position >= 0
    joined = side.frame.take(np.where(known, position, 0)).reset_index(drop=True)
    if not known.all():
        joined = joined.where(pd.Series(known), None)
    frame = pd.concat([limits, joined], axis=1)
    frame["territory"] = frame["territory"].astype("category")
    frame["open_referral"] = frame["limit_id"].isin(tables.open_referrals["limit_id"])
    return frame


def build_frame(tables: InputTables) -> pd.DataFrame:
    """Join the tables into the limit frame of :mod:`arbitration.prepare` (pure)."""
    return join_limits(tables.limits, buyer_side(tables), tables)
