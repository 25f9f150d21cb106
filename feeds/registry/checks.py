"""Column-wise validation helpers of the registry feed (no Python loop over rows)."""

from __future__ import annotations

import numpy as np
import pandas as pd

ISO_DATE = r"^\d{4}-\d{2}-\d{2}$"


def siren_valid(values: pd.Series) -> pd.Series:
    """True where the value is 9 digits passing the Luhn check, as ``stdnum.fr.siren.is_valid``
    decides, but over a whole column at once (a test checks both agree)."""
    text = values.astype(str).fillna("")
    shaped = text.str.fullmatch(r"\d{9}").fillna(False).to_numpy(dtype=bool)
    result = np.zeros(len(text), dtype=bool)
    if shaped.any():
        digits = np.frombuffer("".join(text[shaped]).encode("ascii"), dtype=np.uint8).reshape(-1, 9) - 48
        doubled = digits.astype(np.int64)
        doubled[:, 1::2] *= 2
        doubled[:, 1::2] = np.where(doubled[:, 1::2] > 9, doubled[:, 1::2] - 9, doubled[:, 1::2])
        result[shaped] = doubled.sum(axis=1) % 10 == 0
    return pd.Series(result, index=values.index)


def parse_iso_dates(values: pd.Series) -> tuple[pd.Series, pd.Series]:
    """ISO ``YYYY-MM-DD`` text (a time part after ``T`` is ignored) -> (dates, bad mask).

    Empty is NULL and not bad; anything else that is not a real calendar date is bad."""
    text = values.astype(str).fillna("").str.strip().str.slice(0, 10)
    empty = text.eq("")
    shaped = text.str.fullmatch(ISO_DATE).fillna(False)
    parsed = pd.to_datetime(text.where(shaped), format="%Y-%m-%d", errors="coerce")
    bad = ~empty & parsed.isna()
    return parsed, bad
