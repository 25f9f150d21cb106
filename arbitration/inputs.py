"""The limit frame from the database: every open limit joined with its buyer's latest facts.

Two halves: :func:`read_tables` (I/O: one SELECT per table, the point-in-time filters done by
the database) and :func:`build_frame` (pure: per-buyer reduction of legal events and the joins,
done by position on a buyer index rather than by repeated string merges, which is what keeps
three million limits inside the time budget). Only data known at the business date is read:
scores, payment aggregates and financials dated on or before it, notices published on or
before it, the OECD category valid at it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import date
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
import polars as pl
import pyarrow as pa
import pyarrow.compute as pc
from sqlalchemy.orm import Session

from models.codes import COLLECTIVE_OPENINGS, LIQUIDATION_EVENTS, DecisionStatus, LegalEventType
from models.db import read_frame

if TYPE_CHECKING:  # scoring.service loads MLflow: not for the admin screens' imports
    from scoring.service import ScoringFrames


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
    policies: pd.DataFrame | None = None
    """Policy terms (``policy_id`` and :data:`POLICY_COLUMNS`) when ``limits`` does not carry them."""


POLICY_COLUMNS = [
    "policyholder_id",
    "territory",
    "named_threshold_domestic_cents",
    "named_threshold_export_cents",
    "oal_option",
]


_LATEST = """
SELECT {cols} FROM {table} t JOIN (
  SELECT buyer_id AS latest_buyer, MAX({order}) AS latest FROM {table} WHERE {where} GROUP BY buyer_id
) m ON m.latest_buyer = t.buyer_id AND m.latest = t.{order}
WHERE {outer}
"""
"""The latest row per buyer. A MAX per buyer joined back on the primary key (buyer_id, date
[, role]) is answered from the key's index; the equivalent ``ROW_NUMBER() OVER (PARTITION BY
buyer_id ...)`` sorts the whole history and was 3-4x slower on SQLite. ``outer`` repeats the
filters that the key does not pin (the score's role)."""

PROCEDURE_EVENTS = [str(e) for e in COLLECTIVE_OPENINGS] + [
    LegalEventType.CLOSURE.value,
    LegalEventType.PLAN.value,
]


def _qualified(columns: str) -> str:
    """``a, b`` as ``t.a AS a, t.b AS b``: the joined query returns the same column names."""
    return ", ".join(f"t.{c.strip()} AS {c.strip()}" for c in columns.split(","))


BUYER_COLUMNS = ["buyer_id", "country", "naf_code", "status", "legal_category", "creation_date"]
FINANCIAL_COLUMNS = ["buyer_id", "fiscal_year_end", "revenue_cents", "equity_cents"]
SCORE_COLUMNS = ["buyer_id", "pd_12m", "grade", "rating", "model_version", "reason_codes"]
PAYMENT_COLUMNS = ["buyer_id", "days_beyond_terms", "overdue_share", "overdue_declarations", "dbt_trend_3m"]


def _latest_financials(buyer_filter: str) -> str:
    return _LATEST.format(
        cols=_qualified(", ".join(FINANCIAL_COLUMNS)),
        order="fiscal_year_end",
        table="buyer_financials",
        where=f"filed_date IS NOT NULL AND filed_date <= :as_of AND {buyer_filter}",
        outer="1 = 1",
    )


def _latest_payments(buyer_filter: str) -> str:
    return _LATEST.format(
        cols=_qualified(", ".join(PAYMENT_COLUMNS)),
        order="as_of",
        table="payment_aggregate",
        where=f"as_of <= :as_of AND {buyer_filter}",
        outer="1 = 1",
    )


def _in_list(column: str, values: Iterable[object]) -> str:
    """``column IN ('a', 'b')`` with each value quoted as SQL text (never matches when empty)."""
    quoted = ", ".join("'" + str(v).replace("'", "''") + "'" for v in values) or "''"
    return f"{column} IN ({quoted})"


def _with_earlier(
    session: Session,
    tonight: pd.DataFrame,
    buyers: pd.Series,
    query: Callable[[str], str],
    params: dict[str, object],
) -> pd.DataFrame:
    """``tonight``'s rows, plus the latest earlier row of every buyer that has none tonight (read
    from the database, 5,000 buyers a query: usually few buyers, never a million rows; a tenth
    of a million-buyer book has no payment record tonight, read in 0.85 s instead of 1.4 s
    with 500 a query)."""
    missing = buyers[~_is_in(buyers, tonight["buyer_id"])].unique()
    earlier = [
        read_frame(session, query(_in_list("buyer_id", missing[start : start + 5000])), params)
        for start in range(0, len(missing), 5000)
    ]
    found = [frame for frame in earlier if not frame.empty]
    return pd.concat([tonight, *found], ignore_index=True) if found else tonight


def _is_in(keys: pd.Series, reference: pd.Series) -> np.ndarray:
    """Whether each key is among ``reference``, by Arrow's hash set: pandas' ``isin`` on Arrow
    text turns the reference into a Python list first (5 s for a million buyer ids)."""
    found = pc.is_in(pa.array(keys, from_pandas=True), value_set=pa.array(reference, from_pandas=True))
    return found.to_numpy(zero_copy_only=False).astype(bool)


def _latest_scores(buyer_filter: str) -> str:
    return _LATEST.format(
        cols=_qualified(", ".join(SCORE_COLUMNS)),
        order="as_of",
        table="score",
        where=f"role = 'champion' AND as_of <= :as_of AND {buyer_filter}",
        outer="t.role = 'champion'",
    )


def _latest_rows(keys: pd.Series, dates: pd.Series) -> np.ndarray:
    """Per key, the position of its row with the latest date (the first such row on a tie; keys
    whose dates are all missing have none), by one sort of integer codes: a pandas groupby
    idxmax over two million accounts took 1.5 s."""
    # a few hundred distinct dates among millions of rows: each converted once
    date_codes, distinct = pd.factorize(dates)
    converted = pd.to_datetime(pd.Series(distinct, dtype=object), errors="coerce").to_numpy(
        dtype="datetime64[ns]"
    )
    year_end = np.append(converted, np.datetime64("NaT", "ns"))[date_codes]  # code -1: the NaT
    codes = pd.factorize(keys)[0]
    rows = np.flatnonzero(~np.isnat(year_end))
    ordered = rows[np.lexsort((-rows, year_end[rows].view(np.int64), codes[rows]))]
    group = codes[ordered]
    return ordered[np.append(group[1:] != group[:-1], True)] if len(ordered) else ordered


def _from_scoring(
    session: Session, known: ScoringFrames, params: dict[str, object]
) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """Buyers, latest accounts, latest champion scores and latest payment aggregates at
    ``known.as_of``, from what the score step of this run read and wrote: the same rows the
    queries would return, without reading a million of them back. Latest accounts: per buyer,
    the filed account with the latest fiscal year end (the score step holds every account filed
    by then). Latest scores and aggregates: tonight's; a buyer without one tonight keeps its
    latest earlier one, read from the database."""
    buyers = known.buyers[BUYER_COLUMNS].rename(columns={"status": "buyer_status"})
    filed = known.financials[known.financials["filed_date"].notna()].reset_index(drop=True)
    financials = filed.take(_latest_rows(filed["buyer_id"], filed["fiscal_year_end"]))[FINANCIAL_COLUMNS]
    ids = buyers["buyer_id"]
    scores = _with_earlier(
        session, known.scores[SCORE_COLUMNS].reset_index(drop=True), ids, _latest_scores, params
    )
    tonight = known.payments[PAYMENT_COLUMNS].drop_duplicates("buyer_id", keep="last").reset_index(drop=True)
    payments = _with_earlier(session, tonight, ids, _latest_payments, params)
    return buyers, financials, scores, payments


def read_tables(
    session: Session,
    *,
    as_of: date,
    limit_ids: list[int] | None = None,
    known: ScoringFrames | None = None,
) -> InputTables:
    """Read what arbitration needs at ``as_of`` (optionally for a few limits only). With
    ``known`` (the score step's frames of the same date), buyers, accounts, scores and payment
    aggregates come from it instead of the database (see :func:`_from_scoring`)."""
    only = ""
    params: dict[str, object] = {"as_of": as_of}
    if limit_ids is not None:
        only = " AND l.limit_id IN (" + ", ".join(str(int(i)) for i in limit_ids) + ")"
    limits = read_frame(
        session,
        # the policy terms are read once per policy, not repeated on each of millions of limits
        "SELECT l.limit_id, l.policy_id, l.buyer_id, l.granted_cents, l.requested_cents, l.request_type, "
        "l.outstanding_cents, l.status AS limit_status, l.effective_date AS limit_effective_date "
        "FROM credit_limit l "
        "WHERE (l.status IN ('active', 'requested') OR l.request_type IS NOT NULL)" + only,
    )
    policy_filter = "1 = 1"
    if limit_ids is not None:
        policy_filter = _in_list("policy_id", limits["policy_id"].unique())
    policies = read_frame(
        session, f"SELECT policy_id, {', '.join(POLICY_COLUMNS)} FROM policy WHERE {policy_filter}"
    )
    buyer_filter = "1 = 1"
    if limit_ids is not None:
        buyer_filter = _in_list("buyer_id", limits["buyer_id"].unique())
    if known is not None and known.as_of == as_of and limit_ids is None:
        buyers, financials, scores, payments = _from_scoring(session, known, params)
    else:
        buyers = read_frame(
            session,
            f"SELECT {', '.join(BUYER_COLUMNS)} FROM buyer WHERE {buyer_filter}",
        ).rename(columns={"status": "buyer_status"})
        financials = read_frame(session, _latest_financials(buyer_filter), params)
        scores = read_frame(session, _latest_scores(buyer_filter), params)
        payments = read_frame(session, _latest_payments(buyer_filter), params)
    # measures as numbers on both paths, even a column without any value (read as objects)
    payments = payments.assign(**{c: pd.to_numeric(payments[c]) for c in PAYMENT_COLUMNS[1:]})
    kinds = ", ".join(f"'{k}'" for k in [*PROCEDURE_EVENTS, "radiation", "accounts_filed"])
    events = read_frame(
        session,
        "SELECT buyer_id, event_type, COALESCE(event_date, publication_date) AS event_date, "
        "accounts_closing_date, notice_id FROM legal_event "
        f"WHERE cancelled = :no AND publication_date <= :as_of AND event_type IN ({kinds}) AND {buyer_filter}",
        {**params, "no": False},
    )
    countries = read_frame(
        session,
        "SELECT country, category FROM (SELECT country, category, ROW_NUMBER() OVER "
        "(PARTITION BY country ORDER BY valid_from DESC) AS rn FROM country_grade WHERE valid_from <= :as_of) g "
        "WHERE rn = 1",
        params,
    )
    open_referrals = read_frame(
        session,
        "SELECT DISTINCT limit_id FROM decision WHERE status = :referred AND business_date < :as_of",
        {**params, "referred": DecisionStatus.REFERRED.value},
    )
    return InputTables(
        limits, buyers, financials, scores, events, payments, countries, open_referrals, policies
    )


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
                "accounts_date": pd.Series([], dtype="datetime64[ns]"),
            }
        )
    ev = events.assign(event_date=pd.to_datetime(events["event_date"], errors="coerce"))
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
        pd.to_datetime(accounts["accounts_closing_date"], errors="coerce")
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
        if pd.api.types.is_bool_dtype(values):
            full: np.ndarray = np.zeros(size, dtype=bool)
        elif pd.api.types.is_numeric_dtype(values):
            full = np.full(size, np.nan)
        elif pd.api.types.is_datetime64_any_dtype(values):
            full = np.full(size, np.datetime64("NaT"), dtype="datetime64[ns]")
            values = values.astype("datetime64[ns]")
        elif column in TEXT_COLUMNS:
            # text as a categorical: the codes are scattered, not a million Python strings
            codes, categories = pd.factorize(values, sort=True)
            placed = np.full(size, -1, dtype=codes.dtype)
            placed[position[known]] = codes[known]
            out[column] = pd.Series(pd.Categorical.from_codes(placed, categories=pd.Index(categories)))
            continue
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


def _with_policy_terms(limits: pd.DataFrame, policies: pd.DataFrame | None) -> pd.DataFrame:
    """``limits`` with the terms of its policy on each row (a limit whose policy is unknown
    cannot be decided: it is an error, as the database's foreign key makes it impossible)."""
    if policies is None:
        return limits
    policies = policies.reset_index(drop=True)
    position = KeyIndex(policies["policy_id"]).positions(limits["policy_id"])
    if (position < 0).any():
        missing = sorted(set(limits.loc[position < 0, "policy_id"].astype(str)))[:5]
        raise ValueError(f"expected every limit's policy in the policy table, missing {missing}")
    terms = policies[POLICY_COLUMNS].take(position).reset_index(drop=True)
    return pd.concat([limits, terms], axis=1)


def build_frame(tables: InputTables) -> pd.DataFrame:
    """Join the tables into the limit frame of :mod:`arbitration.prepare` (pure)."""
    limits = _with_policy_terms(tables.limits.reset_index(drop=True), tables.policies)
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
            **{
                c: pd.to_datetime(rows[c], errors="coerce")
                for c in ("fiscal_year_end", "accounts_date")
                if c in rows
            }
        )
        parts |= _scatter(size, index.positions(rows["buyer_id"]), fixed, columns)
    per_buyer = pd.DataFrame(parts)
    for column in ("country", "naf_code", "buyer_status", "legal_category"):
        per_buyer[column] = buyers[column].astype("category")
    per_buyer["creation_date"] = buyers["creation_date"]
    per_buyer["oecd_category"] = _oecd_category(per_buyer["country"], tables.countries)
    fiscal = per_buyer.pop("fiscal_year_end")
    filed = per_buyer.pop("accounts_date")
    per_buyer["last_accounts_date"] = fiscal.where(fiscal >= filed.fillna(fiscal), filed).fillna(filed)
    per_buyer["radiated"] = per_buyer["radiated"].fillna(False).astype(bool)
    for column in ("rating", "procedure", "model_version", "reason_codes"):  # when not read as text
        per_buyer[column] = per_buyer[column].astype("category")
    position = index.positions(limits["buyer_id"])
    known = position >= 0
    joined = per_buyer.take(np.where(known, position, 0)).reset_index(drop=True)
    if not known.all():
        joined = joined.where(pd.Series(known), None)
    frame = pd.concat([limits, joined], axis=1)
    frame["territory"] = frame["territory"].astype("category")
    frame["open_referral"] = frame["limit_id"].isin(tables.open_referrals["limit_id"])
    return frame


def load_frame(
    session: Session,
    *,
    as_of: date,
    limit_ids: list[int] | None = None,
    known: ScoringFrames | None = None,
) -> pd.DataFrame:
    """The limit frame at ``as_of`` from the database (and the score step's frames, if given)."""
    return build_frame(read_tables(session, as_of=as_of, limit_ids=limit_ids, known=known))
