"""Pure parse of the financials CSV into ``buyer_financials`` rows.

Amounts are euros with a ``.`` decimal point and at most 2 decimals; they become integer cents
exactly (0.29 € is 29 cents, not 28: see :func:`to_cents`).
Two rows of one (SIREN, fiscal year end) in a file: the later filing (``date_depot``, then the
later line) wins, the other counts as a duplicate — a refiling corrects the accounts.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from feeds.common import FeedFileError, ParseResult, Verdicts, read_csv_text, rejected_rows
from feeds.registry.checks import parse_iso_dates, siren_valid

AMOUNTS = {
    "chiffre_affaires": "revenue_cents",
    "resultat_net": "net_income_cents",
    "resultat_exploitation": "operating_income_cents",
    "capitaux_propres": "equity_cents",
    "total_bilan": "total_assets_cents",
    "dettes_financieres": "total_debt_cents",
}
REQUIRED = (
    "siren",
    "date_cloture_exercice",
    "date_depot",
    "duree_exercice",
    *AMOUNTS,
    "effectif",
)
COLUMNS = [
    "buyer_id",
    "fiscal_year_end",
    "filed_date",
    *AMOUNTS.values(),
    "headcount",
    "duration_months",
]
AMOUNT_PATTERN = r"-?\d{1,13}(?:\.\d{1,2})?"


def to_cents(values: pd.Series) -> tuple[pd.Series, pd.Series]:
    """Euro text -> (nullable Int64 cents, bad mask). Empty is NULL, not bad.

    The text is checked against :data:`AMOUNT_PATTERN` first (at most 13 integer digits and 2
    decimals), so ``rint(float * 100)`` is exact: below 2**52 cents the float error is far under
    half a cent (0.29 -> 29, never 28)."""
    text = values.astype(str).fillna("").str.strip()
    ok = text.str.fullmatch(AMOUNT_PATTERN).fillna(False).astype(bool)
    cents = pd.Series(np.rint(_floats(text, ok) * 100), index=text.index).astype("Int64")
    return cents.where(ok), ~ok & text.ne("")


def _floats(text: pd.Series, ok: pd.Series) -> np.ndarray:
    """Checked numeric text -> float64 (NaN elsewhere) by one Arrow cast: 20x faster than
    ``pd.to_numeric`` on strings."""
    checked = pc.if_else(pa.array(ok.to_numpy(dtype=bool)), pa.array(text, type=pa.large_string()), None)
    return np.asarray(pc.cast(checked, pa.float64()).to_numpy(zero_copy_only=False), dtype="float64")


def to_int(values: pd.Series, *, low: int, high: int) -> tuple[pd.Series, pd.Series]:
    """Integer text within [low, high] -> (nullable Int64, bad mask). Empty is NULL."""
    text = values.astype(str).fillna("").str.strip()
    shaped = text.str.fullmatch(r"\d{1,9}").fillna(False).astype(bool)
    number = pd.Series(_floats(text, shaped), index=text.index).astype("Int64")
    ok = shaped & number.between(low, high).fillna(False)
    return number.where(ok), ~ok & text.ne("")


def parse(frame: pd.DataFrame) -> ParseResult:
    """Validate raw financials rows (strings, ``_line``) into ``buyer_financials`` rows."""
    missing = [c for c in REQUIRED if c not in frame.columns]
    if missing:
        raise FeedFileError(
            f"<frame>: expected column {missing[0]!r}, not in the {len(frame.columns)} columns"
        )
    read = len(frame)
    # one conversion to Arrow-backed text per column; every check below is then vectorised
    frame = frame.reset_index(drop=True).astype({c: str for c in REQUIRED if c in frame})
    lines = frame["_line"] if "_line" in frame else pd.Series(range(2, read + 2))
    verdicts = Verdicts(frame.index)
    siren = frame["siren"].astype(str).fillna("").str.strip()
    verdicts.flag(~siren_valid(siren), "siren", "expected a 9-digit SIREN passing the Luhn check")
    closing, bad = parse_iso_dates(frame["date_cloture_exercice"])
    verdicts.flag(bad | closing.isna(), "date_cloture_exercice", "expected an ISO date YYYY-MM-DD")
    filed, bad = parse_iso_dates(frame["date_depot"])
    verdicts.flag(bad, "date_depot", "expected an ISO date YYYY-MM-DD or empty")
    verdicts.flag(
        filed.notna() & closing.notna() & (filed < closing),
        "date_depot",
        "filing date before the fiscal year end",
    )
    duration, bad = to_int(frame["duree_exercice"], low=1, high=36)
    verdicts.flag(bad, "duree_exercice", "expected a number of months from 1 to 36, or empty")
    headcount, bad = to_int(frame["effectif"], low=0, high=10_000_000)
    verdicts.flag(bad, "effectif", "expected a non-negative whole number, or empty")
    out = pd.DataFrame(
        {
            "buyer_id": siren,
            "fiscal_year_end": closing.dt.date.astype("object").where(closing.notna(), None),
            "filed_date": filed.dt.date.astype("object").where(filed.notna(), None),
        }
    )
    for column, target in AMOUNTS.items():
        cents, bad = to_cents(frame[column])
        verdicts.flag(bad, column, "expected an amount in euros like -1234.56, or empty")
        out[target] = cents
    out["headcount"] = headcount
    out["duration_months"] = duration
    out["_line"] = lines.to_numpy()
    out["_filed"] = filed.fillna(pd.Timestamp.min)

    good = out[~verdicts.bad]
    kept = good.sort_values(["_filed", "_line"]).drop_duplicates(["buyer_id", "fiscal_year_end"], keep="last")
    kept = kept.sort_values("_line")
    accepted = kept[COLUMNS].reset_index(drop=True)
    return ParseResult(
        accepted=accepted,
        rejected=rejected_rows(frame, lines, verdicts, REQUIRED),
        duplicates=len(good) - len(kept),
        read=read,
    )


def parse_file(path: Path) -> ParseResult:
    """Read a financials CSV (UTF-8 or Windows-1252, ``,`` or ``;``) and parse it."""
    return parse(read_csv_text(path, required=REQUIRED))
