"""Load a Sirene file into ``buyer``: idempotent (hash ledger + upsert on ``buyer_id``) and
order-proof: a row whose ``dateDernierTraitement`` is older than the stored one is skipped, so
an old stock file ingested after a newer one cannot roll a buyer back."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
from sqlalchemy.orm import Session

from feeds.common import FileReport, ingest_file
from feeds.registry.parse import BUYER_COLUMNS, parse_file
from models.db import bulk_upsert, read_frame

SOURCE = "registry"


def stored_versions(session: Session, incoming: pd.DataFrame) -> pd.DataFrame:
    """``buyer_id``, ``registry_updated_at`` of the stored buyers that could be newer than an
    incoming row: those processed after the oldest incoming row. One query, and a small one
    for a daily delta."""
    oldest = pd.to_datetime(incoming["registry_updated_at"]).min()
    if pd.isna(oldest):
        return pd.DataFrame({"buyer_id": [], "registry_updated_at": []})
    return read_frame(
        session,
        "SELECT buyer_id, registry_updated_at FROM buyer WHERE registry_updated_at > :oldest",
        {"oldest": oldest.to_pydatetime()},
    )


def newer_than_stored(incoming: pd.DataFrame, stored: pd.DataFrame) -> pd.Series:
    """True for incoming rows that are not older than what is stored (pure)."""
    merged = incoming[["buyer_id"]].merge(stored, on="buyer_id", how="left")["registry_updated_at"]
    before = pd.to_datetime(merged, errors="coerce").to_numpy()
    now = pd.to_datetime(incoming["registry_updated_at"], errors="coerce").to_numpy()
    older = ~pd.isna(before) & ~pd.isna(now) & (now < before)
    return pd.Series(~older, index=incoming.index)


def load(session: Session, accepted: pd.DataFrame) -> dict[str, int]:
    if accepted.empty:
        return {"old_nomenclature": 0, "older_than_stored": 0}
    keep = newer_than_stored(accepted, stored_versions(session, accepted))
    rows = accepted[keep].assign(updated_at=pd.Timestamp.now(tz="UTC"))
    stamps = rows["registry_updated_at"]
    rows["registry_updated_at"] = pd.Series(
        stamps.dt.to_pydatetime(), index=rows.index, dtype="object"
    ).where(stamps.notna(), None)
    bulk_upsert(session, "buyer", rows, [*BUYER_COLUMNS, "updated_at"], key=["buyer_id"])
    return {
        "old_nomenclature": int(accepted["old_nomenclature"].sum()),
        "older_than_stored": int((~keep).sum()),
    }


def ingest(session: Session, path: Path) -> FileReport:
    """Ingest one ``StockUniteLegale`` file in the caller's transaction (no commit)."""
    return ingest_file(session, source=SOURCE, path=path, parse=parse_file, load=load)
