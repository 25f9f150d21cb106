"""Load a financials file into ``buyer_financials``: idempotent (hash ledger + upsert on
(``buyer_id``, ``fiscal_year_end``)) and order-proof: accounts filed earlier than the stored
ones for the same year never overwrite them. The buyer need not be known yet (feeds arrive in
any order), so there is no foreign key to ``buyer``."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
from sqlalchemy.orm import Session

from feeds.common import FileReport, ingest_file
from feeds.financials.parse import COLUMNS, parse_file
from models.db import bulk_upsert, read_frame

SOURCE = "financials"
KEY = ["buyer_id", "fiscal_year_end"]


def stored_filings(session: Session, incoming: pd.DataFrame) -> pd.DataFrame:
    """``buyer_id``, ``fiscal_year_end``, ``filed_date`` of the stored accounts that could be
    newer than an incoming row: filed after the oldest incoming filing (all filed ones when an
    incoming row has no filing date). One query."""
    filed = pd.to_datetime(incoming["filed_date"])
    sql = "SELECT buyer_id, fiscal_year_end, filed_date FROM buyer_financials WHERE filed_date IS NOT NULL"
    if filed.isna().any():
        return read_frame(session, sql)
    return read_frame(session, sql + " AND filed_date > :oldest", {"oldest": filed.min().date()})


def not_older(incoming: pd.DataFrame, stored: pd.DataFrame) -> pd.Series:
    """True for incoming rows whose filing date is not before the stored one (pure)."""
    if stored.empty:
        return pd.Series(True, index=incoming.index)
    stored = stored.assign(fiscal_year_end=pd.to_datetime(stored["fiscal_year_end"]).dt.date)
    merged = incoming[KEY].merge(stored, on=KEY, how="left")
    before = pd.to_datetime(merged["filed_date"], errors="coerce").to_numpy()
    now = pd.to_datetime(incoming["filed_date"], errors="coerce").to_numpy()
    older = ~pd.isna(before) & (pd.isna(now) | (now < before))
    return pd.Series(~older, index=incoming.index)


def load(session: Session, accepted: pd.DataFrame) -> dict[str, int]:
    if accepted.empty:
        return {"older_than_stored": 0}
    keep = not_older(accepted, stored_filings(session, accepted))
    bulk_upsert(session, "buyer_financials", accepted[keep], COLUMNS, key=KEY)
    return {"older_than_stored": int((~keep).sum())}


def ingest(session: Session, path: Path) -> FileReport:
    """Ingest one financials file in the caller's transaction (no commit)."""
    return ingest_file(session, source=SOURCE, path=path, parse=parse_file, load=load)
