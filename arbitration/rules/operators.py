"""Typed, vectorised operators of rule conditions.

Each operator declares the variable kinds it accepts and the shape of its value, so the loader
rejects ``grade matches "29.*"`` or ``between: 3`` before anything runs. Evaluation works on
whole columns: numbers as float arrays (NaN = unknown), strings as pandas categoricals (the
test runs once per distinct value, then is spread through the codes), booleans as bool arrays.
An unknown value never satisfies a comparison, not even ``ne``: a missing figure must not fire
a rule by accident (``is_null`` exists for that).
"""

from __future__ import annotations

import fnmatch
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import pandas as pd

from arbitration.rules.variables import Kind

Shape = Literal["scalar", "pair", "list", "none"]
BoolArray = np.ndarray


@dataclass(frozen=True)
class Operator:
    name: str
    kinds: frozenset[Kind]
    shape: Shape
    description: str


def _ops() -> dict[str, Operator]:
    num: frozenset[Kind] = frozenset({"number", "integer"})
    eqk: frozenset[Kind] = frozenset({"number", "integer", "string", "boolean"})
    setk: frozenset[Kind] = frozenset({"number", "integer", "string"})
    anyk: frozenset[Kind] = frozenset({"number", "integer", "string", "boolean"})
    items = [
        Operator("eq", eqk, "scalar", "equals"),
        Operator("ne", eqk, "scalar", "differs from (unknown never matches)"),
        Operator("lt", num, "scalar", "less than"),
        Operator("le", num, "scalar", "less than or equal"),
        Operator("gt", num, "scalar", "greater than"),
        Operator("ge", num, "scalar", "greater than or equal"),
        Operator("between", num, "pair", "within [low, high], bounds included"),
        Operator("in", setk, "list", "one of the listed values"),
        Operator("not_in", setk, "list", "none of the listed values (unknown never matches)"),
        Operator("matches", frozenset({"string"}), "list", "matches one of the glob patterns, e.g. 29.*"),
        Operator("not_matches", frozenset({"string"}), "list", "matches none of the glob patterns"),
        Operator("is_null", anyk, "none", "value unknown"),
        Operator("not_null", anyk, "none", "value known"),
    ]
    return {op.name: op for op in items}


OPERATORS: dict[str, Operator] = _ops()
"""Every operator a condition may use, by name."""

SYMBOLS = {"eq": "=", "ne": "≠", "lt": "<", "le": "≤", "gt": ">", "ge": "≥"}


def _globs(patterns: list[Any]) -> re.Pattern[str]:
    return re.compile("|".join(f"(?:{fnmatch.translate(str(p))})" for p in patterns))


def _scalar_test(op: str, value: Any) -> Callable[[Any], Any]:
    """The test of one operator as a function over a numpy array or an Index of categories."""
    if op == "eq":
        return lambda x: x == value
    if op == "ne":
        return lambda x: x != value
    if op == "lt":
        return lambda x: x < value
    if op == "le":
        return lambda x: x <= value
    if op == "gt":
        return lambda x: x > value
    if op == "ge":
        return lambda x: x >= value
    if op == "between":
        low, high = value
        return lambda x: (x >= low) & (x <= high)
    if op in ("in", "not_in"):
        values = list(value)
        hit: Callable[[Any], Any] = lambda x: np.isin(np.asarray(x), values)  # noqa: E731
        return hit if op == "in" else (lambda x: ~hit(x))
    if op in ("matches", "not_matches"):
        regex = _globs(list(value))

        def matched(x: Any) -> Any:
            return np.fromiter((regex.match(str(s)) is not None for s in x), dtype=bool, count=len(x))

        return matched if op == "matches" else (lambda x: ~matched(x))
    raise ValueError(f"expected one of {sorted(OPERATORS)}, found operator {op!r}")


def apply(op: str, column: pd.Series | np.ndarray, value: Any) -> BoolArray:
    """Evaluate ``column <op> value`` over a whole column; unknown values give False."""
    if isinstance(column, pd.Series) and isinstance(column.dtype, pd.CategoricalDtype):
        codes = column.cat.codes.to_numpy()
        known = codes >= 0
        if op == "is_null":
            return ~known
        if op == "not_null":
            return known
        categories = column.cat.categories
        per_category = np.asarray(_scalar_test(op, value)(categories.to_numpy(dtype=object)), dtype=bool)
        if per_category.size == 0:
            return np.zeros(len(codes), dtype=bool)
        return known & per_category[np.where(known, codes, 0)]
    values = column.to_numpy() if isinstance(column, pd.Series) else column
    if values.dtype == bool:
        if op == "is_null":
            return np.zeros(len(values), dtype=bool)
        if op == "not_null":
            return np.ones(len(values), dtype=bool)
        return np.asarray(_scalar_test(op, bool(value))(values), dtype=bool)
    numbers = values.astype("float64", copy=False)
    known = ~np.isnan(numbers)
    if op == "is_null":
        return ~known
    if op == "not_null":
        return known
    with np.errstate(invalid="ignore"):
        return known & np.asarray(_scalar_test(op, value)(numbers), dtype=bool)
