"""The decisions to notify in words, by whole columns: what each e-mail lists, in its
policyholder's language, as plain text and as escaped HTML.

Why columns: a first night words half a million decisions. Worded one record at a time (a dict
per decision, a lookup per field) that took seconds, and the HTML template's auto-escaping cost
ten escapes per line, most of the rendering. Here each distinct value (an amount, a day, a buyer
name, a motive) is worded and escaped once and spread by its codes; the HTML template is then
rendered as is (see :func:`jobs.notify.compose.render`), with output equal to auto-escaping
(tested).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from datetime import date, datetime
from typing import Any

import numpy as np
import pandas as pd

from arbitration.rules.schema import Motive
from jobs.notify.compose import html_escape, one_line
from jobs.notify.wording import SCHEME_WORDS, day, decision_words, money, reason_words

ITEM_FIELDS = (
    "reference",
    "buyer_name",
    "siren",
    "decision",
    "reason",
    "previous",
    "new",
    "effective_date",
    "oal_deadline",
    "schemes",
)
"""What the templates show of a decision (``item["..."]``)."""
CAP_SCHEMES = ("CAP", "CAP_FRANCEXPORT", "CAP_PLUS", "CAP_PLUS_FRANCEXPORT")


def missing(value: object) -> bool:
    return (
        value is None or value is pd.NA or value is pd.NaT or (isinstance(value, float) and math.isnan(value))
    )


def as_date(value: object) -> date | None:
    """A date from a date, a date-time, ISO text or a missing value (None)."""
    if missing(value):
        return None
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    return date.fromisoformat(str(value)[:10])


def each_distinct(values: pd.Series | np.ndarray, word: Callable[[Any], Any]) -> np.ndarray:
    """``word`` of every value, called once per distinct value (missing ones: once, on None,
    if there are any)."""
    dtype = values.dtype
    if isinstance(dtype, np.dtype) and dtype.kind in "iuf":  # NumPy's own: no nullable Int64 (floats)
        array = np.asarray(values)
        # numbers hashed as numbers (amounts, ids: half a million each on a first night), not
        # as Python objects; ``word`` still gets Python ints and floats, NaN as missing
        codes, numbers = pd.factorize(array, use_na_sentinel=True)
        uniques: Any = numbers.tolist()
    else:
        codes, uniques = pd.factorize(pd.Series(values, dtype=object), use_na_sentinel=True)
    worded = np.empty(len(uniques) + 1, dtype=object)
    worded[:-1] = [word(v) for v in uniques]
    worded[-1] = word(None) if (codes < 0).any() else None  # code -1: a missing value
    return worded[codes]


def runs(values: np.ndarray) -> list[tuple[int, int]]:
    """``(start, stop)`` of each run of equal consecutive values (a policyholder's decisions in
    a frame sorted by policyholder), in order."""
    if not len(values):
        return []
    starts = np.flatnonzero(np.r_[True, values[1:] != values[:-1]]).tolist()
    return list(zip(starts, [*starts[1:], len(values)], strict=True))


def _by_language(english: np.ndarray, values: pd.Series, word: Callable[[Any, str], Any]) -> np.ndarray:
    french = each_distinct(values, lambda v: word(v, "fr"))
    if not english.any():
        return french
    return np.where(english, each_distinct(values, lambda v: word(v, "en")), french)


def _schemes(
    decision_ids: pd.Series, english: np.ndarray, eligible: pd.DataFrame
) -> tuple[np.ndarray, np.ndarray]:
    """Per decision, its CAP-family top-ups as ``{"label", "amount"}`` lists: as text and as
    escaped HTML, each label and amount worded once per distinct value. One shared empty list
    where there is none (the templates only read them)."""
    text = np.empty(len(decision_ids), dtype=object)
    text[:] = [[]]
    html = text.copy()
    offers = eligible[eligible["scheme"].isin(CAP_SCHEMES) & eligible["amount_cents"].notna()]
    row = pd.Index(decision_ids.astype("int64")).get_indexer(pd.Index(offers["decision_id"].astype("int64")))
    offers = offers[row >= 0].assign(row=row[row >= 0]).sort_values("row", kind="stable")
    if offers.empty:
        return text, html
    in_english = english[offers["row"].to_numpy()]
    label = _by_language(in_english, offers["scheme"], lambda v, lang: SCHEME_WORDS[lang][str(v)])
    amount = _by_language(in_english, offers["amount_cents"], lambda v, lang: money(int(v), lang))
    html_label = each_distinct(label, html_escape)
    html_amount = each_distinct(amount, html_escape)
    rows = offers["row"].to_numpy()
    for start, stop in runs(rows):
        text[rows[start]] = [{"label": label[i], "amount": amount[i]} for i in range(start, stop)]
        html[rows[start]] = [{"label": html_label[i], "amount": html_amount[i]} for i in range(start, stop)]
    return text, html


def word_frame(
    decisions: pd.DataFrame,
    eligible: pd.DataFrame,
    *,
    english: np.ndarray,
    motives: Mapping[str, Motive] | None = None,
) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
    """Every decision of ``decisions`` in words (one array per :data:`ITEM_FIELDS`, in row
    order), in English where ``english`` says so, else in French: the text view and the same
    escaped for HTML.

    ``decisions`` has the outbox's pending columns (decision_id, buyer_id, buyer_name, siren,
    decision_type, reason_code, reason_rule, previous_cents, proposed_cents, final_cents,
    effective_date); ``eligible`` the eligible rows (decision_id, scheme, amount_cents,
    deadline). The reason is the motive of the decision's ``reason_rule`` in ``motives`` when
    it has one (4509 says "other reason" for most of what the rules watch), else the 4509
    words. The new amount is the arbiter's (``final_cents``) when set, else the proposed one."""
    motives = motives or {}
    named = decisions["buyer_name"].where(decisions["buyer_name"].notna(), decisions["buyer_id"])
    new = decisions["final_cents"].where(decisions["final_cents"].notna(), decisions["proposed_cents"])
    oal = eligible[eligible["scheme"] == "OAL"]
    deadline = decisions["decision_id"].map(
        pd.Series(oal["deadline"].to_numpy(), index=oal["decision_id"].astype("int64").to_numpy())
    )
    rule = decisions["reason_rule"] if "reason_rule" in decisions else pd.Series([None] * len(decisions))

    def motive(value: Any, language: str) -> str | None:
        found = motives.get(value) if isinstance(value, str) else None
        return None if found is None else (found.fr if language == "fr" else found.en)

    motive_words = _by_language(english, rule, motive)
    code_words = _by_language(english, decisions["reason_code"], lambda v, lang: reason_words(lang, int(v)))
    text: dict[str, np.ndarray] = {
        "reference": each_distinct(decisions["decision_id"], lambda v: str(int(v))),
        "buyer_name": each_distinct(named, one_line),
        "siren": each_distinct(decisions["siren"], lambda v: "-" if missing(v) else str(v)),
        "decision": _by_language(
            english, decisions["decision_type"], lambda v, lang: decision_words(lang, int(v))
        ),
        "reason": np.where(pd.isna(motive_words), code_words, motive_words),
        "previous": _by_language(english, decisions["previous_cents"], lambda v, lang: money(int(v), lang)),
        "new": _by_language(english, new, lambda v, lang: money(int(v), lang)),
        "effective_date": _by_language(
            english, decisions["effective_date"], lambda v, lang: day(as_date(v), lang)
        ),
        "oal_deadline": _by_language(
            english, deadline, lambda v, lang: None if missing(v) else day(as_date(v), lang)
        ),
    }
    html = {
        field: each_distinct(values, lambda v: None if v is None else html_escape(v))
        for field, values in text.items()
    }
    text["schemes"], html["schemes"] = _schemes(decisions["decision_id"], english, eligible)
    return text, html


def items_of(columns: Mapping[str, np.ndarray], start: int, stop: int) -> list[dict[str, Any]]:
    """Rows ``start:stop`` of a :func:`word_frame` view as the templates' item dicts."""
    return [
        dict(zip(ITEM_FIELDS, row, strict=True))
        for row in zip(*(columns[field][start:stop] for field in ITEM_FIELDS), strict=True)
    ]


def word_items(
    decisions: list[dict[Any, Any]],
    eligible: list[dict[Any, Any]],
    language: str,
    *,
    motives: Mapping[str, Motive] | None = None,
) -> list[dict[str, Any]]:
    """:func:`word_frame` of a few records, all in ``language``: the template items."""
    if not decisions:
        return []
    frame = pd.DataFrame.from_records(decisions)
    for column in ("reason_rule", "siren", "buyer_name", "final_cents"):
        if column not in frame:
            frame[column] = None
    offers = pd.DataFrame.from_records(
        eligible, columns=["decision_id", "scheme", "amount_cents", "deadline"]
    )
    text, _ = word_frame(frame, offers, english=np.full(len(frame), language == "en"), motives=motives)
    return items_of(text, 0, len(frame))
