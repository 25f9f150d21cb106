"""The limit frame the engine reads: its columns, their defaults, and the derived variables.

Why separate from the engine: the frame is the contract between the database side
(:mod:`arbitration.inputs`) and the pure evaluation. Derived variables (company age, late
accounts, desk) depend on the business date and on the parameters, so they are computed here
from raw dates, never stored.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from typing import Any

import numpy as np
import pandas as pd

from arbitration.params import ParamValues
from arbitration.rules import RuleSet
from arbitration.rules.operators import apply

FRAME_DEFAULTS: dict[str, Any] = {
    "limit_id": None,
    "policy_id": "",
    "buyer_id": "",
    "policyholder_id": "",
    "granted_cents": 0,
    "requested_cents": np.nan,
    "request_type": np.nan,
    "outstanding_cents": 0,
    "limit_status": "active",
    "limit_effective_date": pd.NaT,
    "territory": "BOTH",
    "named_threshold_domestic_cents": 500_000,
    "named_threshold_export_cents": 1_000_000,
    "oal_option": False,
    "country": "FR",
    "naf_code": None,
    "buyer_status": "A",
    "legal_category": None,
    "creation_date": pd.NaT,
    "revenue_cents": np.nan,
    "equity_cents": np.nan,
    "last_accounts_date": pd.NaT,
    "pd_12m": np.nan,
    "grade": np.nan,
    "rating": None,
    "model_version": None,
    "reason_codes": None,
    "days_beyond_terms": np.nan,
    "overdue_share": np.nan,
    "overdue_declarations": np.nan,
    "dbt_trend_3m": np.nan,
    "procedure": None,
    "radiated": False,
    "oecd_category": np.nan,
    "open_referral": False,
}
"""Every column of the limit frame with the value a missing one takes (tests give partial rows)."""

FLOAT_COLUMNS = (
    "granted_cents",
    "requested_cents",
    "request_type",
    "outstanding_cents",
    "named_threshold_domestic_cents",
    "named_threshold_export_cents",
    "revenue_cents",
    "equity_cents",
    "pd_12m",
    "grade",
    "days_beyond_terms",
    "overdue_share",
    "overdue_declarations",
    "dbt_trend_3m",
    "oecd_category",
)
CATEGORY_COLUMNS = (
    "country",
    "naf_code",
    "buyer_status",
    "legal_category",
    "rating",
    "procedure",
    "territory",
)
BOOL_COLUMNS = ("oal_option", "radiated", "open_referral")


@dataclass
class Prepared:
    """Whole columns by name: float arrays (NaN = unknown), bool arrays, categorical Series."""

    columns: dict[str, Any]
    size: int
    masks: dict[tuple[str, str, str], np.ndarray] = field(default_factory=dict)
    """Leaf-test results of one evaluation, shared by the rules that repeat a test."""

    def __getitem__(self, name: str) -> Any:
        return self.columns[name]


def complete_frame(frame: pd.DataFrame) -> pd.DataFrame:
    """Add the missing columns with their defaults (does not modify ``frame``)."""
    missing = {c: v for c, v in FRAME_DEFAULTS.items() if c not in frame.columns}
    if not missing:
        return frame
    return frame.assign(**{c: [v] * len(frame) for c, v in missing.items()})


def _float(series: pd.Series) -> np.ndarray:
    return pd.to_numeric(series, errors="coerce").to_numpy(dtype="float64", na_value=np.nan)


def _category(series: pd.Series) -> pd.Series:
    if isinstance(series.dtype, pd.CategoricalDtype):
        return series.reset_index(drop=True)
    return series.astype("object").where(series.notna(), None).astype("category").reset_index(drop=True)


def _days_since(series: pd.Series, as_of: date) -> np.ndarray:
    stamps = pd.to_datetime(series, errors="coerce").to_numpy(dtype="datetime64[D]")
    days = (np.datetime64(as_of, "D") - stamps).astype("float64")
    days[np.isnat(stamps)] = np.nan
    return days


def assign_desks(cols: dict[str, Any], rule_set: RuleSet, size: int) -> pd.Series:
    """First desk (in file order) whose every criterion matches, else the default desk."""
    desk = np.full(size, -1, dtype=np.int64)
    names = [d.id for d in rule_set.desks]
    for index, spec in enumerate(rule_set.desks):
        hit = desk < 0
        if spec.naf:
            hit &= apply("matches", cols["naf_code"], spec.naf)
        if spec.countries:
            hit &= apply("in", cols["country"], spec.countries)
        if spec.exclude_countries:
            hit &= ~apply("in", cols["country"], spec.exclude_countries)
        if spec.oecd_categories:
            hit &= apply("in", cols["oecd_category"], spec.oecd_categories)
        if spec.export_only:
            hit &= cols["is_export"]
        desk[hit] = index
    categories = [*names, rule_set.default_desk] if rule_set.default_desk not in names else names
    codes = np.where(desk < 0, categories.index(rule_set.default_desk), desk)
    return pd.Series(pd.Categorical.from_codes(codes, categories=pd.Index(categories)))


def prepare(frame: pd.DataFrame, rule_set: RuleSet, p: ParamValues) -> Prepared:
    """Typed whole columns plus the derived variables of the registry, at ``p.as_of``."""
    frame = complete_frame(frame)
    size = len(frame)
    cols: dict[str, Any] = {}
    for name in FLOAT_COLUMNS:
        cols[name] = _float(frame[name])
    for name in CATEGORY_COLUMNS:
        cols[name] = _category(frame[name])
    for name in BOOL_COLUMNS:
        cols[name] = frame[name].fillna(False).to_numpy(dtype=bool)
    cols["sector"] = cols["naf_code"]
    cols["has_score"] = ~np.isnan(cols["grade"])
    cols["is_export"] = ~apply("eq", cols["country"], "FR")
    cols["oecd_classified"] = ~np.isnan(cols["oecd_category"])
    procedure = cols["procedure"]
    cols["collective_procedure_open"] = apply("in", procedure, ["sauvegarde", "rj", "lj"])
    cols["liquidation_open"] = apply("eq", procedure, "lj")
    cols["radiated"] = cols["radiated"] | apply("eq", cols["buyer_status"], "C")
    cols["company_age_years"] = _days_since(frame["creation_date"], p.as_of) / 365.25
    months = _days_since(frame["last_accounts_date"], p.as_of) / 30.4375
    cols["months_since_accounts"] = months
    age_months = cols["company_age_years"] * 12.0
    with np.errstate(invalid="ignore"):
        cols["late_accounts"] = np.where(
            np.isnan(months), age_months > p.late_accounts_months, months > p.late_accounts_months
        )
    cols["has_financials"] = ~(np.isnan(cols["revenue_cents"]) & np.isnan(cols["equity_cents"]))
    request = cols["request_type"]
    cols["has_request"] = np.isin(request, [2, 3]) & ~np.isnan(cols["requested_cents"])
    cols["notice_pending"] = _days_since(frame["limit_effective_date"], p.as_of) < 0
    cols["desk"] = assign_desks(cols, rule_set, size)
    for name in ("limit_id", "policy_id", "buyer_id", "policyholder_id", "model_version", "reason_codes"):
        cols[name] = frame[name].reset_index(drop=True)
    return Prepared(cols, size)
