"""Portfolio indicators (seed 002), pure functions over small aggregated frames.

Why pure and small: the database aggregates 3M limits down to a few hundred rows (per country,
per rating, the day's decisions); the maths here then runs on three-row frames in tests and
cannot disagree with the report.

Choices the seed leaves open, made explicit:

* **Country-risk index** = sum_i w_i x amount_i / sum amount, with w_i = i for OECD category
  i = 1..7 and w_0 = 1 (seed 002). Countries the OECD does **not classify** (high-income OECD and
  euro-area countries, ``category`` NULL) get weight 1 like category 0: they are the markets the
  OECD deems at least as safe (they carry category 0's minimum premium). Buyers in a country with
  **no grade row at all** are unknown, left out of both sums, and their share is reported
  (``unknown_share``) so a gap in the country feed is visible rather than silently priced.
* **Stock** = the limits in force (``granted_cents`` of active limits): the insurer's cover
  outstanding. **Flow** = covers granted by the period's final decisions (approved, partly or
  conditionally approved, open-new-account) at their new amount.
* **Good risks** = rated BBB- or better; **less good** = CCC or below (CCC, CCC-, CC, C, SD, D);
  shares of amount and of number of buyers, over all buyers with cover (unrated ones included
  in the denominator, as the seed divides by the whole portfolio).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from models.codes import FINAL_STATUSES, ResponseType

RATING_ORDER = (
    "AAA", "AA+", "AA", "AA-", "A+", "A", "A-", "BBB+", "BBB", "BBB-", "BB+", "BB", "BB-",
    "B+", "B", "B-", "CCC+", "CCC", "CCC-", "CC", "C", "SD", "D",
)  # fmt: skip
GOOD_UP_TO = RATING_ORDER.index("BBB-")
LESS_GOOD_FROM = RATING_ORDER.index("CCC")
TARGET_BAND = (2.0, 4.5)
GRANTING = (
    int(ResponseType.APPROVED),
    int(ResponseType.CONDITIONAL_APPROVAL),
    int(ResponseType.PARTLY_APPROVED),
    int(ResponseType.OPEN_NEW_ACCOUNT_ONLY),
)
_FINAL = {str(s) for s in FINAL_STATUSES}


def country_weights(categories: pd.Series) -> pd.Series:
    """Seed-002 weight of each OECD category: i, except 0 -> 1; not classified (NaN) -> 1."""
    numeric = pd.to_numeric(categories, errors="coerce")
    return numeric.where(numeric >= 1, 1.0).astype(float)


def country_risk_index(amounts: pd.DataFrame) -> dict[str, Any]:
    """``amounts``: ``amount_cents``, ``category`` (NaN = not classified) and ``known`` (False
    when the country has no grade row). Returns the index (None on an empty portfolio) and the
    unknown share."""
    total_all = float(amounts["amount_cents"].sum()) if not amounts.empty else 0.0
    known = amounts[amounts["known"].astype(bool)] if not amounts.empty else amounts
    total = float(known["amount_cents"].sum()) if not known.empty else 0.0
    index = None
    if total > 0:
        weighted = float((country_weights(known["category"]) * known["amount_cents"].astype(float)).sum())
        index = round(weighted / total, 4)
    unknown = round((total_all - total) / total_all, 6) if total_all > 0 else 0.0
    return {"index": index, "amount_cents": int(total), "unknown_share": unknown}


def in_band(value: float | None) -> bool | None:
    return None if value is None else TARGET_BAND[0] <= value <= TARGET_BAND[1]


def rating_rank(ratings: pd.Series) -> pd.Series:
    """Position on the S&P-style scale (0 = AAA); NaN for a missing or unknown letter."""
    ranks = {letter: i for i, letter in enumerate(RATING_ORDER)}
    return ratings.astype("string").str.strip().str.upper().map(ranks).astype(float)


def risk_shares(by_rating: pd.DataFrame) -> dict[str, dict[str, float | None]]:
    """``by_rating``: ``rating`` (may be missing), ``amount_cents``, ``buyers``, aggregated over
    the buyers with cover. Shares are fractions in [0, 1]; None when nothing is covered."""
    amount = float(by_rating["amount_cents"].sum()) if not by_rating.empty else 0.0
    count = float(by_rating["buyers"].sum()) if not by_rating.empty else 0.0
    rank = rating_rank(by_rating["rating"]) if not by_rating.empty else pd.Series(dtype=float)
    good = (rank <= GOOD_UP_TO).to_numpy()
    less = (rank >= LESS_GOOD_FROM).to_numpy()

    def share(mask: np.ndarray, column: str, total: float) -> float | None:
        if total <= 0:
            return None
        return round(float(by_rating.loc[mask, column].sum()) / total, 6)

    return {
        "good_risk_share": {
            "amount": share(good, "amount_cents", amount),
            "count": share(good, "buyers", count),
        },
        "less_good_risk_share": {
            "amount": share(less, "amount_cents", amount),
            "count": share(less, "buyers", count),
        },
    }


def new_amount(decisions: pd.DataFrame) -> pd.Series:
    return decisions["final_cents"].fillna(decisions["proposed_cents"]).fillna(0).astype("int64")


def decision_counts(decisions: pd.DataFrame) -> dict[str, int]:
    """Count of the day's decisions per EDIFACT 4507 code (keys are the codes as strings)."""
    if decisions.empty:
        return {}
    counts = decisions["decision_type"].astype(int).value_counts().sort_index()
    return {str(k): int(v) for k, v in counts.items()}


def exposure_removed(decisions: pd.DataFrame) -> dict[str, int]:
    """Cover taken away by the day's final decisions (referred ones have removed nothing yet)."""
    if decisions.empty:
        return {"amount_cents": 0, "decisions": 0}
    final = decisions[decisions["status"].isin(_FINAL)]
    cut = (final["previous_cents"].astype("int64") - new_amount(final)).clip(lower=0)
    return {"amount_cents": int(cut.sum()), "decisions": int((cut > 0).sum())}


def flow_amounts(decisions: pd.DataFrame) -> pd.DataFrame:
    """Covers granted by the period's final decisions, by buyer country (for the flow index)."""
    if decisions.empty:
        return pd.DataFrame({"country": pd.Series(dtype="string"), "amount_cents": pd.Series(dtype="int64")})
    granted = decisions[
        decisions["status"].isin(_FINAL) & decisions["decision_type"].astype(int).isin(GRANTING)
    ]
    frame = pd.DataFrame({"country": granted["buyer_country"], "amount_cents": new_amount(granted)})
    return frame.groupby("country", dropna=False)["amount_cents"].sum().reset_index()


def with_grades(amounts: pd.DataFrame, grades: pd.DataFrame) -> pd.DataFrame:
    """Attach the OECD category in force to per-country amounts. ``grades`` holds the grade in
    force per country (``country``, ``category``); a country absent from it is unknown."""
    merged = amounts.merge(grades.assign(known=True), on="country", how="left")
    merged["known"] = merged["known"].astype("boolean").fillna(False).astype(bool)
    return merged


def grades_in_force(grades: pd.DataFrame) -> pd.DataFrame:
    """Latest ``valid_from`` per country among rows already filtered to ``<= as_of``."""
    if grades.empty:
        return pd.DataFrame({"country": pd.Series(dtype="string"), "category": pd.Series(dtype=float)})
    latest = grades.sort_values(["country", "valid_from"]).groupby("country", as_index=False).tail(1)
    return latest[["country", "category"]].reset_index(drop=True)


def by_column(decisions: pd.DataFrame, column: str) -> dict[str, int]:
    if decisions.empty:
        return {}
    counts = decisions[column].fillna("(none)").astype(str).value_counts()
    return {str(k): int(v) for k, v in counts.items()}


def biggest_movers(decisions: pd.DataFrame, n: int = 10) -> pd.DataFrame:
    """The ``n`` decisions that change cover the most (either way), largest first."""
    if decisions.empty:
        return decisions.assign(change_cents=pd.Series(dtype="int64"))
    change = new_amount(decisions) - decisions["previous_cents"].astype("int64")
    out = decisions.assign(change_cents=change, magnitude=change.abs())
    return (
        out.sort_values(["magnitude", "decision_id"], ascending=[False, True])
        .head(n)
        .drop(columns="magnitude")
    )
