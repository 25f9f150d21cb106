"""Load OECD grades into ``country_grade``, keeping only changes across files too.

A file may repeat a grade already stored, or insert a date between stored ones (a late
correction). For the countries in the file, the stored history and the file are merged
(the file wins on the same date), reduced again to changes, and the stored rows of those
countries are replaced by the result in the caller's transaction. The table is small
(a few hundred rows per country-decade), so this stays cheap.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd
from sqlalchemy import delete
from sqlalchemy.orm import Session

from feeds.common import FileReport, ingest_file
from feeds.country.parse import only_changes, parse_file
from models.country_grade import CountryGrade
from models.db import bulk_insert, read_frame

SOURCE = "country"
COLUMNS = ["country", "valid_from", "category"]


def merged_history(stored: pd.DataFrame, incoming: pd.DataFrame) -> pd.DataFrame:
    """Stored and incoming grades of the incoming countries, reduced to changes (pure)."""
    countries = set(incoming["country"])
    old = stored[stored["country"].isin(countries)].assign(_line=0)
    new = incoming.assign(_line=1)
    both = pd.concat([old, new], ignore_index=True)
    both["valid_from"] = pd.to_datetime(both["valid_from"])
    both["category"] = pd.to_numeric(both["category"]).astype("Int64")
    changes = only_changes(both)
    return changes.assign(valid_from=changes["valid_from"].dt.date)[COLUMNS].reset_index(drop=True)


def load(session: Session, accepted: pd.DataFrame) -> dict[str, int]:
    if accepted.empty:
        return {"net_new_grade_rows": 0}
    stored = read_frame(session, "SELECT country, valid_from, category FROM country_grade")
    if stored.empty:
        stored = pd.DataFrame({c: [] for c in COLUMNS})
    result = merged_history(stored, accepted)
    countries = sorted(set(accepted["country"]))
    session.execute(delete(CountryGrade).where(CountryGrade.country.in_(countries)))
    bulk_insert(session, "country_grade", result, COLUMNS)
    before = int(stored["country"].isin(countries).sum())
    return {"net_new_grade_rows": len(result) - before}


def ingest(session: Session, path: Path) -> FileReport:
    """Ingest one OECD file (wide or long) in the caller's transaction (no commit)."""
    return ingest_file(session, source=SOURCE, path=path, parse=parse_file, load=load)
