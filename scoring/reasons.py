"""Reason codes: the top drivers of each buyer's PD, for all buyers at once.

How: at training time we tabulate, for every feature, a centred partial dependence of the
model's log-odds (one batched predict over a small sample x a grid of values). At scoring time
a buyer's contribution of feature j is a table lookup at its own value: one vectorised pass
per feature, never one explainer call per buyer. For a logistic scorecard this reproduces its
points per feature exactly (up to the calibration); for gradient boosting it is the usual
additive approximation. The same tables explain a single buyer on an arbiter's screen.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from scoring.errors import ScoringError, read_yaml_list

MAX_GRID = 16
MAX_CATEGORIES = 40


@dataclass(frozen=True)
class ReasonCode:
    code: str
    feature: str
    fr: str
    en: str


def load_reason_codes(path: Path) -> dict[str, ReasonCode]:
    """Feature name -> its stable reason code (YAML with fr/en labels)."""
    _, rows = read_yaml_list(path, "codes", "reason codes")
    out: dict[str, ReasonCode] = {}
    seen: set[str] = set()
    for row in rows:
        code = ReasonCode(str(row["code"]), str(row["feature"]), str(row["fr"]), str(row["en"]))
        if code.code in seen or code.feature in out:
            raise ScoringError(f"{path}: code {code.code} / feature {code.feature} appears twice")
        seen.add(code.code)
        out[code.feature] = code
    return out


def _logit(p: np.ndarray) -> np.ndarray:
    p = np.clip(p, 1e-6, 1 - 1e-6)
    return np.log(p / (1 - p))


@dataclass
class DependenceTable:
    """Centred partial dependence of one feature on the log-odds scale."""

    feature: str
    kind: str  # "numeric" or "categorical"
    grid: list[float] | list[str]
    values: list[float]
    missing: float = 0.0
    """Contribution of a missing numeric value (unknown category: 0)."""


def build_tables(
    predict_pd: Callable[[pd.DataFrame], np.ndarray],
    sample: pd.DataFrame,
    numeric: list[str],
    categorical: list[str],
) -> list[DependenceTable]:
    """Tabulate every feature's partial dependence with ONE predict call over sample x grid."""
    blocks: list[pd.DataFrame] = []
    plan: list[tuple[str, str, list[Any]]] = []
    for feature in numeric:
        col = sample[feature].dropna()
        grid = sorted(set(np.quantile(col, np.linspace(0, 1, MAX_GRID)).tolist())) if len(col) else []
        plan.append((feature, "numeric", [*grid, np.nan]))
    for feature in categorical:
        cats = sample[feature].astype(str).value_counts().index[:MAX_CATEGORIES].tolist()
        plan.append((feature, "categorical", list(cats)))
    for feature, _kind, grid in plan:
        for value in grid:
            block = sample.copy()
            block[feature] = value
            blocks.append(block)
    logits = _logit(predict_pd(pd.concat(blocks, ignore_index=True))).reshape(len(blocks), len(sample))
    means = logits.mean(axis=1)
    tables: list[DependenceTable] = []
    start = 0
    for feature, kind, grid in plan:
        part = means[start : start + len(grid)]
        start += len(grid)
        if kind == "numeric":
            table = DependenceTable(feature, kind, [float(g) for g in grid[:-1]], [], 0.0)
            raw_values = part[:-1]
            raw_missing = float(part[-1])
        else:
            table = DependenceTable(feature, kind, [str(g) for g in grid], [], 0.0)
            raw_values = part
            raw_missing = float("nan")
        # centre on the sample's own average effect so contributions are deviations from a typical buyer
        observed = _lookup(table, raw_values.tolist(), raw_missing, sample[feature])
        centre = float(np.nanmean(observed)) if len(observed) else 0.0
        table.values = [float(v - centre) for v in raw_values]
        table.missing = raw_missing - centre if kind == "numeric" else 0.0
        tables.append(table)
    return tables


def _lookup(table: DependenceTable, values: list[float], missing: float, column: pd.Series) -> np.ndarray:
    if table.kind == "categorical":
        texts = column if column.dtype == object else column.astype(str)
        codes = pd.Index(table.grid, dtype=object).get_indexer(pd.Index(texts))
        lookup = np.append(np.asarray(values, dtype=float), 0.0)  # code -1 (unseen) -> 0
        return lookup[codes]
    x = pd.to_numeric(column, errors="coerce").to_numpy(dtype=float)
    if not table.grid:
        return np.full(len(x), missing if not np.isnan(missing) else 0.0)
    out = np.interp(x, np.asarray(table.grid, dtype=float), np.asarray(values, dtype=float))
    return np.where(np.isnan(x), missing, out)


def contributions(tables: list[DependenceTable], frame: pd.DataFrame) -> pd.DataFrame:
    """Per-buyer, per-feature contribution to the log-odds (positive = raises the PD)."""
    data = {t.feature: _lookup(t, t.values, t.missing, frame[t.feature]) for t in tables}
    return pd.DataFrame(data, index=frame.index)


def top_reasons(contrib: pd.DataFrame, codes: dict[str, ReasonCode], *, top: int = 3) -> pd.Series:
    """Comma-separated codes of the ``top`` features that raise each buyer's PD most (strongest
    first). Only positive contributions count: a feature that lowers the PD is no reason."""
    missing = [f for f in contrib.columns if f not in codes]
    if missing:
        raise ScoringError(f"no reason code for features {missing}; add them to the reason codes file")
    labels = np.array([codes[f].code for f in contrib.columns], dtype=object)
    values = contrib.to_numpy(dtype=float)
    k = min(top, values.shape[1])
    # the k largest of each row (argpartition: linear, not a full sort of every row), then
    # those k in decreasing order, ties among them to the earlier feature. A tie across the
    # k-th place may keep either feature (no exact tie of two float contributions in practice)
    if k < values.shape[1]:
        candidates = np.sort(np.argpartition(-values, k - 1, axis=1)[:, :k], axis=1)
    else:
        candidates = np.broadcast_to(np.arange(k), (len(values), k))
    within = np.argsort(-np.take_along_axis(values, candidates, axis=1), axis=1, kind="stable")
    order = np.take_along_axis(candidates, within, axis=1)
    picked = np.take_along_axis(values, order, axis=1)
    # join through the few distinct combinations, not row by row
    positions = np.where(picked > 1e-9, order, -1) + 1  # 0 = no reason
    width = values.shape[1] + 1
    keys = np.zeros(len(values), dtype=np.int64)
    for i in range(k):
        keys = keys * width + positions[:, i]
    uniques, inverse = np.unique(keys, return_inverse=True)
    label_of = np.array(["", *labels.tolist()], dtype=object)
    texts = []
    for combined in uniques.tolist():
        digits = []
        rest = combined
        for _ in range(k):
            rest, digit = divmod(rest, width)
            digits.append(digit)
        texts.append(",".join(label_of[d] for d in reversed(digits) if d))
    joined = (
        np.asarray(texts, dtype=object)[inverse.reshape(-1)] if len(uniques) else np.array([], dtype=object)
    )
    return pd.Series(joined, index=contrib.index, name="reason_codes", dtype=object)
