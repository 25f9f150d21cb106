"""What a decision says about itself: fired rules, observed values, explanation, full trace.

Built from the same masks the engine computed, so the stored explanation of a batch decision
and the arbiter's one-row trace come from one computation. Annotations are built only for the
rows that get a decision, column by column (no per-limit Python loop on the nightly path); the
full trace is for small frames (the arbiter's screen, ``vigie rules explain``).
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterator
from datetime import date
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from arbitration.prepare import Prepared
from arbitration.rules import RuleSet
from arbitration.rules.operators import SYMBOLS, apply
from arbitration.rules.schema import AllOf, AnyOf, Condition, Leaf, NotOf, Rule
from arbitration.rules.variables import VARIABLES

NO_SCORE_TEXT = "no-score: the buyer has no champion score; an arbiter must decide (never kept silently)"


def leaves(condition: Condition) -> Iterator[Leaf]:
    if isinstance(condition, Leaf):
        yield condition
    elif isinstance(condition, AllOf):
        for child in condition.all:
            yield from leaves(child)
    elif isinstance(condition, AnyOf):
        for child in condition.any:
            yield from leaves(child)
    elif isinstance(condition, NotOf):
        yield from leaves(condition.not_)


def rule_variables(rule: Rule) -> list[str]:
    """Variables a rule looks at: those of its conditions, then those of its action."""
    names = [leaf.var for leaf in leaves(rule.when)]
    action = rule.then
    if action.share_of:
        names.append(action.share_of)
    if action.share_by_grade:
        names.append("grade")
    if action.action in ("factor", "refuse"):
        names.append("current_limit")
    return list(dict.fromkeys(names))


def _json_values(column: Any, scale: float) -> pa.Array:
    """JSON text of every value of a prepared column ("null" for unknown), as an Arrow array."""
    if isinstance(column, pd.Series) and isinstance(column.dtype, pd.CategoricalDtype):
        texts = np.array([json.dumps(str(c)) for c in column.cat.categories] + ["null"], dtype=object)
        codes = column.cat.codes.to_numpy()
        return pa.array(texts[np.where(codes < 0, len(texts) - 1, codes)], type=pa.string())
    values = np.asarray(column)
    if values.dtype == bool:
        return pc.if_else(pa.array(values), "true", "false")
    numbers = pa.array(values.astype("float64") / scale, from_pandas=True)
    return pc.fill_null(pc.cast(numbers, pa.string()), "null")


def _pieces(mask: np.ndarray, text: pa.Array | str) -> pa.Array:
    """``text`` where ``mask``, the empty string elsewhere (never null: see :func:`_join`)."""
    return pc.if_else(pa.array(mask), text, "")


def _join(pieces: list[pa.Array], size: int) -> pa.Array:
    """Concatenate pieces row by row. Pieces are never null: Arrow's null-skipping join can
    drop rows whose pieces are all null, which would shift every later value."""
    if not pieces:
        return pa.array([""] * size, type=pa.string())
    joined = pc.binary_join_element_wise(*pieces, "")
    if len(joined) != size:
        raise ValueError(f"expected {size} joined rows, found {len(joined)}")
    return joined


def _patterns(hits: np.ndarray) -> tuple[list[np.ndarray], np.ndarray]:
    """Distinct columns of a (rules x rows) bool matrix: the fired indices of each distinct
    pattern, and for every row the number of its pattern."""
    if hits.shape[1] == 0:
        return [], np.zeros(0, dtype=np.int64)
    if hits.shape[0] <= 63:
        weights = np.left_shift(np.int64(1), np.arange(hits.shape[0], dtype=np.int64))
        keys = weights @ hits.astype(np.int64)
        unique, inverse = np.unique(keys, return_inverse=True)
        bits = ((unique[:, None] >> np.arange(hits.shape[0])) & 1).astype(bool)
    else:
        bits_packed, inverse = np.unique(np.packbits(hits, axis=0).T, axis=0, return_inverse=True)
        bits = np.unpackbits(bits_packed, axis=1)[:, : hits.shape[0]].astype(bool)
    return [np.flatnonzero(row) for row in bits], np.asarray(inverse).reshape(-1)


def annotate(
    out: pd.DataFrame,
    data: Prepared,
    rule_set: RuleSet,
    fired: np.ndarray,
    no_score: np.ndarray,
    decision: np.ndarray,
) -> None:
    """Add ``fired_rules``, ``observed`` (JSON text) and ``explanation`` for the decided rows.

    Fired rules and explanation depend only on which rules fired: they are written once per
    distinct pattern of fired rules (a few hundred a night) and spread by index. Observed values
    differ per row: they are formatted with Arrow string kernels, one operation per variable."""
    rows = np.flatnonzero(decision)
    size = len(rows)
    rules = rule_set.rules
    hits = (
        np.vstack([fired[:, rows], no_score[rows][None, :]]) if size else np.zeros((len(rules) + 1, 0), bool)
    )
    patterns, inverse = _patterns(hits)
    ids_text, explain_text = [], []
    for on in patterns:
        names = [rules[i].id if i < len(rules) else "no-score" for i in on]
        texts = [f"{rules[i].id}: {rules[i].description}" if i < len(rules) else NO_SCORE_TEXT for i in on]
        ids_text.append(json.dumps(names, separators=(",", ":")))
        explain_text.append("; ".join(texts))
    seen: dict[str, np.ndarray] = {}
    for index, rule in enumerate(rules):
        hit = hits[index]
        if hit.any():
            for name in rule_variables(rule):
                seen[name] = seen.get(name, np.zeros(size, dtype=bool)) | hit
    if size and hits[-1].any():
        seen["grade"] = seen.get("grade", np.zeros(size, dtype=bool)) | hits[-1]
    observed: list[pa.Array] = []
    for name in sorted(seen):
        variable = VARIABLES[name]
        values = _json_values(_take(data[variable.column], rows), variable.scale)
        observed.append(
            _pieces(seen[name], pc.binary_join_element_wise(f"{json.dumps(name)}: ", values, ", ", ""))
        )
    # every piece ends with ", "; no JSON value here ends with a comma or a space, so trimming
    # those characters removes exactly the last separator
    body = pc.binary_join_element_wise("{", pc.utf8_rtrim(_join(observed, size), characters=", "), "}", "")
    # One row per input row without a Python object per row: patterns as categoricals, observed
    # values as an Arrow string column ("{}" for the rows without a decision).
    codes = np.zeros(len(out), dtype=np.int64)
    codes[rows] = inverse + 1
    out["fired_rules"] = _categorical(codes, ["[]", *ids_text])
    out["explanation"] = _categorical(codes, ["", *explain_text])
    pick = np.full(len(out), size, dtype=np.int64)
    pick[rows] = np.arange(size)
    full = pc.take(
        pa.concat_arrays([body.cast(pa.string()), pa.array(["{}"], type=pa.string())]), pa.array(pick)
    )
    out["observed"] = pd.Series(pd.arrays.ArrowStringArray(full), index=out.index)


def _categorical(codes: np.ndarray, texts: list[str]) -> pd.Categorical:
    """Texts by code, as a categorical (texts may repeat: an empty pattern can be decided too)."""
    unique, inverse = np.unique(np.array(texts, dtype=object), return_inverse=True)
    return pd.Categorical.from_codes(inverse[codes], categories=pd.Index(unique, dtype=object))


def _take(column: Any, rows: np.ndarray) -> Any:
    if isinstance(column, pd.Series):
        return column.iloc[rows].reset_index(drop=True)
    return np.asarray(column)[rows]


def _plain(value: Any, scale: float = 1.0) -> Any:
    """One observed value as plain JSON-able Python (money back in EUR)."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return None
    if isinstance(value, np.bool_ | bool):
        return bool(value)
    if isinstance(value, np.integer | np.floating | int | float):
        number = float(value) / scale
        return int(number) if number.is_integer() else number
    return str(value)


def _node(condition: Condition, rule: Rule, data: Prepared, row: int, as_of: date) -> dict[str, Any]:
    from arbitration.engine import condition_mask, resolve  # the engine owns evaluation

    result = bool(condition_mask(condition, rule, data, as_of)[row])
    if isinstance(condition, Leaf):
        variable = VARIABLES[condition.var]
        column = data[variable.column]
        raw = column.iloc[row] if isinstance(column, pd.Series) else column[row]
        value = resolve(condition.value, rule, as_of)
        symbol = SYMBOLS.get(condition.op, condition.op)
        return {
            "var": condition.var,
            "op": condition.op,
            "value": value,
            "observed": _plain(raw, variable.scale),
            "result": result,
            "text": f"{condition.var} {symbol} {value if value is not None else ''}".strip(),
        }
    if isinstance(condition, AllOf):
        return {"all": [_node(c, rule, data, row, as_of) for c in condition.all], "result": result}
    if isinstance(condition, AnyOf):
        return {"any": [_node(c, rule, data, row, as_of) for c in condition.any], "result": result}
    if isinstance(condition, NotOf):
        return {"not": _node(condition.not_, rule, data, row, as_of), "result": result}
    raise TypeError(f"expected a condition node, found {type(condition).__name__}")


def build_trace(
    data: Prepared, rule_set: RuleSet, steps: list[dict[str, Any]], no_score: np.ndarray, as_of: date
) -> list[list[dict[str, Any]]]:
    """Per row, every rule in order: in force?, fired?, its condition tree with observed values,
    and the amount after it. Meant for small frames (one limit on an arbiter's screen)."""
    from arbitration.engine import resolve

    traces: list[list[dict[str, Any]]] = []
    for row in range(data.size):
        entries: list[dict[str, Any]] = []
        for rule, step in zip(rule_set.rules, steps, strict=True):
            entries.append(
                {
                    "rule": rule.id,
                    "description": rule.description,
                    "reference": rule.reference,
                    "origin": rule_set.origins.get(rule.id),
                    "in_effect": step["in_effect"],
                    "fired": bool(step["fired"][row]),
                    "action": rule.then.action,
                    "values": {k: resolve(f"${k}", rule, as_of) for k in rule.values},
                    "condition": _node(rule.when, rule, data, row, as_of) if step["in_effect"] else None,
                    "amount_after_cents": _plain(step["amount"][row]),
                }
            )
        if no_score[row]:
            entries.append(
                {"rule": "no-score", "description": NO_SCORE_TEXT, "fired": True, "action": "refer"}
            )
        traces.append(entries)
    return traces


__all__ = ["annotate", "apply", "build_trace", "leaves", "rule_variables"]
