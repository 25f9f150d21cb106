"""Apply rectificatifs and annulations to the notices they refer to (pure).

Rules, so the result does not depend on the order files arrive in:
- An initial notice is written under its own id, unless a correction was already applied to
  that id (``rectified_by`` set): the correction wins over a late original.
- A rectificatif replaces the fields of the referred notice (type, nature, dates, SIREN) but
  keeps its publication date (the event was public since then) and its cancelled flag.
- An annulation sets ``cancelled`` on the referred notice and keeps its fields.
- A correction whose notice is unknown (not stored, not in the file) is written under the
  referred id with its own fields, so the original, when it comes, is not applied over it.
- Corrections apply in publication order (then file order); ``rectified_by`` names the last.
"""

from __future__ import annotations

from typing import Any

import pandas as pd

EVENT_COLUMNS = [
    "notice_id",
    "buyer_id",
    "event_type",
    "family",
    "nature_raw",
    "event_date",
    "publication_date",
    "accounts_closing_date",
    "cancelled",
    "rectified_by",
]
FIELDS = ["buyer_id", "event_type", "family", "nature_raw", "event_date", "accounts_closing_date"]


def resolve(notices: pd.DataFrame, stored: pd.DataFrame) -> pd.DataFrame:
    """Rows to upsert into ``legal_event`` from parsed ``notices`` and the ``stored`` rows
    (columns :data:`EVENT_COLUMNS`) of the ids they target."""
    locked = set(stored.loc[stored["rectified_by"].notna(), "notice_id"])
    originals = notices[notices["notice_type"].eq("annonce") & ~notices["notice_id"].isin(locked)]
    base = originals.assign(cancelled=False, rectified_by=None)[EVENT_COLUMNS]
    corrections = notices[~notices["notice_type"].eq("annonce")]
    if corrections.empty:
        return base.reset_index(drop=True)
    current: dict[str, dict[str, Any]] = {
        str(r["notice_id"]): {str(k): v for k, v in r.items()}
        for r in stored[EVENT_COLUMNS].to_dict("records")
    }
    current.update({str(r["notice_id"]): {str(k): v for k, v in r.items()} for r in base.to_dict("records")})
    touched: list[str] = []
    ordered = corrections.sort_values(["publication_date", "_line"])
    for correction in ordered.to_dict("records"):  # corrections are a handful per day
        target = str(correction["target_id"])
        before = current.get(target)
        if correction["notice_type"] == "annulation" and before is not None:
            after = {**before, "cancelled": True}
        else:
            after = {field: correction[field] for field in FIELDS}
            after["notice_id"] = target
            after["publication_date"] = (
                before["publication_date"] if before else correction["publication_date"]
            )
            cancelled = bool(before["cancelled"]) if before else False
            after["cancelled"] = cancelled or correction["notice_type"] == "annulation"
        after["rectified_by"] = correction["notice_id"]
        current[target] = after
        touched.append(target)
    corrected = pd.DataFrame([current[t] for t in dict.fromkeys(touched)], columns=EVENT_COLUMNS)
    untouched = base[~base["notice_id"].isin(set(touched))]
    return pd.concat([untouched, corrected], ignore_index=True)[EVENT_COLUMNS]
