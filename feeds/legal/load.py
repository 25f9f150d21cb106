"""Load BODACC notices into ``legal_event``: idempotent (hash ledger + upsert on
``notice_id``), corrections applied to the notices they refer to (:mod:`feeds.legal.resolve`)."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
from sqlalchemy.orm import Session

from feeds.common import FileReport, ingest_file
from feeds.legal.parse import parse_file
from feeds.legal.resolve import EVENT_COLUMNS, resolve
from models.db import bulk_upsert, read_frame

SOURCE = "legal"
CHUNK = 1000


def stored_events(session: Session, notices: pd.DataFrame) -> pd.DataFrame:
    """The stored rows ``resolve`` needs: every corrected notice (``rectified_by`` set: an
    original must not overwrite it) and the targets of the incoming corrections (a handful a
    day). Never the whole table."""
    select = f"SELECT {', '.join(EVENT_COLUMNS)} FROM legal_event"
    parts = [read_frame(session, select + " WHERE rectified_by IS NOT NULL")]
    targets = list(pd.unique(notices.loc[~notices["notice_type"].eq("annonce"), "target_id"]))
    for start in range(0, len(targets), CHUNK):
        names = {f"k{i}": v for i, v in enumerate(targets[start : start + CHUNK])}
        marks = ", ".join(f":{k}" for k in names)
        parts.append(read_frame(session, f"{select} WHERE notice_id IN ({marks})", names))
    frames = [p for p in parts if not p.empty]
    if not frames:
        return pd.DataFrame({c: pd.Series(dtype="object") for c in EVENT_COLUMNS})
    stored = pd.concat(frames, ignore_index=True).drop_duplicates("notice_id")
    for column in ("event_date", "publication_date", "accounts_closing_date"):
        stored[column] = (
            pd.to_datetime(stored[column]).dt.date.astype("object").where(stored[column].notna(), None)
        )
    stored["cancelled"] = stored["cancelled"].astype(bool)
    return stored


def load(session: Session, accepted: pd.DataFrame) -> dict[str, int]:
    if accepted.empty:
        return {"corrections": 0}
    stored = stored_events(session, accepted)
    rows = resolve(accepted, stored)
    bulk_upsert(session, "legal_event", rows, EVENT_COLUMNS, key=["notice_id"])
    return {"corrections": int((~accepted["notice_type"].eq("annonce")).sum())}


def ingest(session: Session, path: Path) -> FileReport:
    """Ingest one BODACC JSON file in the caller's transaction (no commit)."""
    return ingest_file(session, source=SOURCE, path=path, parse=parse_file, load=load)
