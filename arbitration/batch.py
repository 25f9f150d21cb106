"""A whole book evaluated on every core: the limits cut into chunks, each joined and evaluated
in a thread of its own.

Why threads help although Python holds one lock: most of the work is NumPy, pandas, Arrow and
polars over whole columns, which let go of it. On the 2-core machine of ``benchmarks/RESULTS.md``
(3M limits, first night): a cold evaluation in a fresh process 3.4-3.6 s on two threads against
5.7-6.0 s on one; warm, 2.15-2.71 s against 2.85 s. Why the results are the same as in one
piece: the engine decides each limit from its own row only (tested: results do not depend on how
the frame is chunked, and chunked evaluation equals the whole); the chunks' outputs are put back
in order and their categoricals re-unified.
"""

from __future__ import annotations

import itertools
import os
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from datetime import date
from typing import Any

import numpy as np
import pandas as pd
from pandas.api.types import union_categoricals

from arbitration.engine import evaluate
from arbitration.joins import InputTables, buyer_side, join_limits
from arbitration.params import ArbitrationParams
from arbitration.rules import RuleSet

MIN_CHUNK = 250_000
"""Fewest limits worth a thread of their own: below that, starting threads and re-unifying
categoricals costs more than it saves."""

MAX_THREADS = 4
"""Most chunks evaluated at once: every chunk holds its own copy of the per-limit columns."""


def threads_available() -> int:
    """The cores this process may run on (what ``nproc`` prints), at most :data:`MAX_THREADS`."""
    return max(1, min(MAX_THREADS, len(os.sched_getaffinity(0))))


def _bounds(rows: int, threads: int | None) -> list[tuple[int, int]]:
    count = max(1, min(threads or threads_available(), rows // MIN_CHUNK))
    edges = np.linspace(0, rows, count + 1).astype(np.int64)
    return [(int(a), int(b)) for a, b in itertools.pairwise(edges)]


def _in_threads(count: int, run: Callable[[int], pd.DataFrame]) -> pd.DataFrame:
    if count == 1:
        return run(0)
    with ThreadPoolExecutor(count, thread_name_prefix="vigie-rules") as pool:
        return concat_results(list(pool.map(run, range(count))))


def evaluate_book(
    tables: InputTables,
    rule_set: RuleSet,
    *,
    as_of: date,
    params: ArbitrationParams,
    threads: int | None = None,
) -> pd.DataFrame:
    """:func:`arbitration.engine.evaluate` of every limit of ``tables``, joined as
    :func:`arbitration.joins.build_frame` joins them: the per-buyer side once, then each chunk
    of limits joined and evaluated in its own thread. One output row per limit, in order."""
    side = buyer_side(tables)
    limits = tables.limits.reset_index(drop=True)
    bounds = _bounds(len(limits), threads)

    def run(chunk: int) -> pd.DataFrame:
        start, stop = bounds[chunk]
        frame = join_limits(limits.iloc[start:stop], side, tables)
        return evaluate(frame, rule_set, as_of=as_of, params=params)

    return _in_threads(len(bounds), run)


def evaluate_frame(
    frame: pd.DataFrame,
    rule_set: RuleSet,
    *,
    as_of: date,
    params: ArbitrationParams,
    threads: int | None = None,
) -> pd.DataFrame:
    """:func:`arbitration.engine.evaluate` of an already joined limit frame, in chunks."""
    frame = frame.reset_index(drop=True)
    bounds = _bounds(len(frame), threads)

    def run(chunk: int) -> pd.DataFrame:
        start, stop = bounds[chunk]
        return evaluate(frame.iloc[start:stop].reset_index(drop=True), rule_set, as_of=as_of, params=params)

    return _in_threads(len(bounds), run)


def concat_results(parts: list[pd.DataFrame]) -> pd.DataFrame:
    """Chunks' outputs one after another. A categorical whose categories differ between chunks
    (the patterns of fired rules seen in each) is re-unified, its categories sorted as one
    evaluation sorts them: pandas would make it objects."""
    out = pd.concat(parts, ignore_index=True)
    for column in parts[0].columns:
        if isinstance(parts[0][column].dtype, pd.CategoricalDtype) and not isinstance(
            out[column].dtype, pd.CategoricalDtype
        ):
            as_objects = [_object_categories(part[column]) for part in parts]
            unified = union_categoricals(as_objects, sort_categories=True)
            typed = pd.Index(unified.categories, dtype=_categories_dtype([part[column] for part in parts]))
            out[column] = pd.Series(
                pd.Categorical.from_codes(unified.codes, categories=typed), index=out.index
            )
    return out


def _categories_dtype(parts: list[pd.Series]) -> Any:
    """The categories' type one evaluation would give: that of a chunk that has any (a chunk
    whose values are all missing types its empty categories as objects)."""
    typed = [part.cat.categories.dtype for part in parts if len(part.cat.categories)]
    return typed[0] if typed else parts[0].cat.categories.dtype


def _object_categories(values: pd.Series) -> pd.Series:
    """``values`` with its categories as objects (a chunk whose texts are all missing may type
    them differently from the others, which ``union_categoricals`` refuses)."""
    return values.cat.set_categories(pd.Index(values.cat.categories, dtype=object))


def without_limits(tables: InputTables, limit_ids: pd.Series) -> InputTables:
    """``tables`` less the limits whose id is in ``limit_ids`` (those already decided today)."""
    return replace(tables, limits=tables.limits[~tables.limits["limit_id"].isin(limit_ids)])


__all__ = ["concat_results", "evaluate_book", "evaluate_frame", "threads_available", "without_limits"]
