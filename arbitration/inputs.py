"""The limit frame from the database: every open limit joined with its buyer's latest facts.

Two halves: :func:`read_tables` (I/O: one SELECT per table, the point-in-time filters done by
the database) and :func:`arbitration.joins.build_frame` (pure: per-buyer reduction of legal
events and the joins by position on a buyer index). Only data known at the business date is read:
scores, payment aggregates and financials dated on or before it, notices published on or
before it, the OECD category valid at it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import date
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
from sqlalchemy.orm import Session

from arbitration.joins import POLICY_COLUMNS, PROCEDURE_EVENTS, InputTables, build_frame, datetimes
from models.bulk_read import read_bulk
from models.codes import DecisionStatus
from models.db import read_frame
from models.payment_aggregate import measures_as_numbers
from models.score import LATEST_SCORE_DATE

if TYPE_CHECKING:  # scoring.service loads MLflow: not for the admin screens' imports
    from scoring.service import ScoringFrames


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


def _latest(
    table: str, columns: list[str], order: str, where: str, outer: str = "1 = 1"
) -> Callable[[str], str]:
    """The :data:`_LATEST` query of ``table`` as a function of the buyer filter. The selected
    columns are qualified (``t.a AS a``) so the joined query returns the same column names."""

    def query(buyer_filter: str) -> str:
        return _LATEST.format(
            cols=", ".join(f"t.{c} AS {c}" for c in columns),
            order=order,
            table=table,
            where=f"{where} AND {buyer_filter}",
            outer=outer,
        )

    return query


BUYER_COLUMNS = ["buyer_id", "country", "naf_code", "status", "legal_category", "creation_date"]
FINANCIAL_COLUMNS = ["buyer_id", "fiscal_year_end", "revenue_cents", "equity_cents"]
SCORE_COLUMNS = ["buyer_id", "pd_12m", "grade", "rating", "model_version", "reason_codes"]
PAYMENT_COLUMNS = ["buyer_id", "days_beyond_terms", "overdue_share", "overdue_declarations", "dbt_trend_3m"]


_latest_financials = _latest(
    "buyer_financials",
    FINANCIAL_COLUMNS,
    "fiscal_year_end",
    "filed_date IS NOT NULL AND filed_date <= :as_of",
)


def _payments_of_latest_date(buyer_filter: str) -> str:
    """The payment aggregates of the latest aggregate date on or before ``:as_of``: one range
    of the key, which starts with the date. A buyer without a row that date has no payment
    experience to weigh: an aggregate already holds every invoice of its twelve months and
    every older one still unpaid, so an earlier row of that buyer would only add paid invoices
    that have aged out (and the score step, which reads the aggregates of its own date, never
    sees them either)."""
    return (
        f"SELECT {', '.join(PAYMENT_COLUMNS)} FROM payment_aggregate WHERE as_of = "
        f"(SELECT MAX(as_of) FROM payment_aggregate WHERE as_of <= :as_of) AND {buyer_filter}"
    )


def _scores_of_latest_date(buyer_filter: str) -> str:
    """The champion scores of the latest score date on or before ``:as_of``: one range of the
    score key, which starts with the date. A night scores every buyer known at its date, so
    these are the latest scores of nearly every buyer (see :data:`_latest_scores`)."""
    return (
        f"SELECT {', '.join(SCORE_COLUMNS)} FROM score WHERE role = 'champion' AND as_of = "
        f"({LATEST_SCORE_DATE}) AND {buyer_filter}"
    )


_latest_scores = _latest(
    "score", SCORE_COLUMNS, "as_of", "role = 'champion' AND as_of <= :as_of", outer="t.role = 'champion'"
)
"""The latest score of each buyer of a filter, for the few without one at the latest date: the
score key starts with the date, so this walks the history once (a rare path)."""


def _in_list(column: str, values: Iterable[object]) -> str:
    """``column IN ('a', 'b')`` with each value quoted as SQL text (never matches when empty)."""
    quoted = ", ".join("'" + str(v).replace("'", "''") + "'" for v in values) or "''"
    return f"{column} IN ({quoted})"


def _with_earlier(
    session: Session,
    latest: pd.DataFrame,
    buyers: pd.Series,
    query: Callable[[str], str],
    params: dict[str, object],
) -> pd.DataFrame:
    """``latest``'s rows (the latest date's), plus the latest earlier row of every buyer that
    has none there, read in one query: the table's key starts with the date, so each query
    walks the history once, and such buyers are few (a night scores every buyer it knows)."""
    missing = buyers[~_is_in(buyers, latest["buyer_id"])].unique()
    if not len(missing):
        return latest
    earlier = read_frame(session, query(_in_list("buyer_id", missing)), params)
    return pd.concat([latest, earlier], ignore_index=True) if not earlier.empty else latest


def _is_in(keys: pd.Series, reference: pd.Series) -> np.ndarray:
    """Whether each key is among ``reference``, by Arrow's hash set: pandas' ``isin`` on Arrow
    text turns the reference into a Python list first (5 s for a million buyer ids)."""
    if len(reference) == 0:  # an empty read has no type to match the keys' text against
        return np.zeros(len(keys), dtype=bool)
    found = pc.is_in(pa.array(keys, from_pandas=True), value_set=pa.array(reference, from_pandas=True))
    return found.to_numpy(zero_copy_only=False).astype(bool)


def _latest_rows(keys: pd.Series, dates: pd.Series) -> np.ndarray:
    """Per key, the position of its row with the latest date (the first such row on a tie; keys
    whose dates are all missing have none), by one sort of integer codes: a pandas groupby
    idxmax over two million accounts took 1.5 s."""
    year_end = datetimes(dates).to_numpy()  # a few hundred distinct dates: each converted once
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
    by then). Latest scores: tonight's; a buyer without one tonight keeps its latest earlier
    one, read from the database. Payment aggregates: tonight's (see
    :func:`_payments_of_latest_date`)."""
    buyers = known.buyers[BUYER_COLUMNS].rename(columns={"status": "buyer_status"})
    filed = known.financials.loc[known.financials["filed_date"].notna(), FINANCIAL_COLUMNS]
    financials = filed.take(_latest_rows(filed["buyer_id"], filed["fiscal_year_end"])).reset_index(drop=True)
    ids = buyers["buyer_id"]
    scores = _with_earlier(
        session, known.scores[SCORE_COLUMNS].reset_index(drop=True), ids, _latest_scores, params
    )
    # one row per buyer: the aggregates of tonight, which are those of the latest date unless
    # the night wrote none (no payment history at all): then the latest date's are read
    payments = known.payments[PAYMENT_COLUMNS].reset_index(drop=True)
    if payments.empty:
        payments = read_frame(session, _payments_of_latest_date("1 = 1"), params)
    return buyers, financials, scores, payments


LIMITS_SQL = (
    # the policy terms are read once per policy, not repeated on each of millions of limits
    "SELECT l.limit_id, l.policy_id, l.buyer_id, l.granted_cents, l.requested_cents, l.request_type, "
    "l.outstanding_cents, l.status AS limit_status, l.effective_date AS limit_effective_date, "
    # the version read: the night writes its decision over the limit only if it is still that one
    "l.version AS limit_version "
    "FROM credit_limit l "
    "WHERE (l.status IN ('active', 'requested') OR l.request_type IS NOT NULL)"
)
"""The limits arbitration weighs (a filter on some limits may follow)."""


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
    # millions of rows: read in native code (see models.bulk_read), or read ahead by the night
    limits = read_bulk(session, LIMITS_SQL + only)
    policy_filter = buyer_filter = "1 = 1"
    if limit_ids is not None:
        policy_filter = _in_list("policy_id", limits["policy_id"].unique())
        buyer_filter = _in_list("buyer_id", limits["buyer_id"].unique())
    policies = read_frame(
        session, f"SELECT policy_id, {', '.join(POLICY_COLUMNS)} FROM policy WHERE {policy_filter}"
    )
    if known is not None and known.as_of == as_of and limit_ids is None:
        buyers, financials, scores, payments = _from_scoring(session, known, params)
    else:
        buyers = read_frame(
            session,
            f"SELECT {', '.join(BUYER_COLUMNS)} FROM buyer WHERE {buyer_filter}",
        ).rename(columns={"status": "buyer_status"})
        financials = read_frame(session, _latest_financials(buyer_filter), params)
        latest = read_frame(session, _scores_of_latest_date(buyer_filter), params)
        scores = _with_earlier(session, latest, buyers["buyer_id"], _latest_scores, params)
        payments = read_frame(session, _payments_of_latest_date(buyer_filter), params)
    payments = measures_as_numbers(payments)  # on both paths: same dtypes either way
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


def load_frame(
    session: Session,
    *,
    as_of: date,
    limit_ids: list[int] | None = None,
    known: ScoringFrames | None = None,
) -> pd.DataFrame:
    """The limit frame at ``as_of`` from the database (and the score step's frames, if given)."""
    return build_frame(read_tables(session, as_of=as_of, limit_ids=limit_ids, known=known))
