"""Pure parse of INSEE Sirene ``StockUniteLegale`` rows into buyer rows.

Decisions (documented in ``feeds/LAYOUTS.md`` terms):
- Both the current 35-column layout and the 2019 33-column one are read: only the columns
  common to both are needed.
- An activity code in an older nomenclature (``NAP``, ``NAFRev1``, ``NAF1993``) is not an
  error of the file: INSEE keeps old units with the code of their time. The row is kept with
  ``naf_code`` NULL (no official one-to-one conversion exists) and counted in
  ``old_nomenclature``. A code claimed as ``NAFRev2`` but absent from the nomenclature is
  quarantined.
- A purged unit (``unitePurgeeUniteLegale=true``) is still a valid legal unit: kept.
- Sole traders (legal category 1xxx) are natural persons: their name is built from the person
  fields and ``is_natural_person`` is set so logs and exports leave it out. No person field ever
  reaches a quarantine reason (only the SIREN and the offending code do).
- Several rows of one SIREN in a file: the one with the latest ``dateDernierTraitement`` wins
  (then the latest line); the others are counted as duplicates.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from feeds.common import FeedFileError, ParseResult, Verdicts, read_csv_text, rejected_rows
from feeds.registry.checks import parse_iso_dates, siren_valid
from feeds.registry.reference import company_categories, headcount_bands, naf_rev2_codes

REQUIRED = (
    "siren",
    "unitePurgeeUniteLegale",
    "dateCreationUniteLegale",
    "prenom1UniteLegale",
    "prenomUsuelUniteLegale",
    "trancheEffectifsUniteLegale",
    "dateDernierTraitementUniteLegale",
    "categorieEntreprise",
    "etatAdministratifUniteLegale",
    "nomUniteLegale",
    "nomUsageUniteLegale",
    "denominationUniteLegale",
    "denominationUsuelle1UniteLegale",
    "sigleUniteLegale",
    "categorieJuridiqueUniteLegale",
    "activitePrincipaleUniteLegale",
    "nomenclatureActivitePrincipaleUniteLegale",
)
"""Columns read; present in both the 2019 (33) and the current (35) layouts."""

RAW_COLUMNS = (
    "siren",
    "dateCreationUniteLegale",
    "trancheEffectifsUniteLegale",
    "categorieEntreprise",
    "etatAdministratifUniteLegale",
    "categorieJuridiqueUniteLegale",
    "activitePrincipaleUniteLegale",
    "nomenclatureActivitePrincipaleUniteLegale",
    "dateDernierTraitementUniteLegale",
)
"""What a quarantined row keeps as ``raw``: codes only, never a person's name."""

BUYER_COLUMNS = [
    "buyer_id",
    "siren",
    "name",
    "country",
    "naf_code",
    "legal_category",
    "creation_date",
    "headcount_band",
    "size_category",
    "status",
    "is_natural_person",
    "registry_updated_at",
]

OLD_NOMENCLATURES = frozenset({"NAP", "NAFREV1", "NAF1993"})
"""Older INSEE activity nomenclatures (upper-cased): the row is kept with ``naf_code`` NULL."""


def _clean(frame: pd.DataFrame, column: str) -> pd.Series:
    return frame[column].astype(str).fillna("").str.strip()


def _names(frame: pd.DataFrame, natural: pd.Series, siren: pd.Series) -> pd.Series:
    """Company name; for a natural person ``<usual first name> <usage or birth name>``."""
    denomination = _clean(frame, "denominationUniteLegale")
    usual = _clean(frame, "denominationUsuelle1UniteLegale")
    sigle = _clean(frame, "sigleUniteLegale")
    first = _clean(frame, "prenomUsuelUniteLegale")
    first = first.where(first.ne(""), _clean(frame, "prenom1UniteLegale"))
    last = _clean(frame, "nomUsageUniteLegale")
    last = last.where(last.ne(""), _clean(frame, "nomUniteLegale"))
    person = (first + " " + last).str.strip()
    company = denomination.where(denomination.ne(""), usual.where(usual.ne(""), sigle))
    name = person.where(natural & person.ne(""), company)
    name = name.where(name.ne(""), person)
    return name.where(name.ne(""), "SIREN " + siren).str.slice(0, 200)


def parse(frame: pd.DataFrame, *, naf_codes: frozenset[str] | None = None) -> ParseResult:
    """Validate raw Sirene rows (all strings, ``_line`` = physical line) into buyer rows.

    Returns accepted rows with :data:`BUYER_COLUMNS` plus ``old_nomenclature`` (bool)."""
    naf_codes = naf_codes if naf_codes is not None else naf_rev2_codes()
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

    siren = _clean(frame, "siren")
    verdicts.flag(~siren_valid(siren), "siren", "expected a 9-digit SIREN passing the Luhn check")

    status = _clean(frame, "etatAdministratifUniteLegale")
    verdicts.flag(~status.isin(["A", "C"]), "etatAdministratifUniteLegale", "expected A or C")

    created, bad_created = parse_iso_dates(frame["dateCreationUniteLegale"])
    verdicts.flag(bad_created, "dateCreationUniteLegale", "expected an ISO date YYYY-MM-DD or empty")
    processed = frame["dateDernierTraitementUniteLegale"].astype(str).fillna("").str.strip()
    processed_at = pd.to_datetime(processed.where(processed.ne("")), errors="coerce", format="ISO8601")
    verdicts.flag(
        processed.ne("") & processed_at.isna(),
        "dateDernierTraitementUniteLegale",
        "expected an ISO timestamp or empty",
    )

    legal = _clean(frame, "categorieJuridiqueUniteLegale")
    verdicts.flag(
        ~legal.str.fullmatch(r"\d{4}|").fillna(False),
        "categorieJuridiqueUniteLegale",
        "expected a 4-digit legal category",
    )
    band = _clean(frame, "trancheEffectifsUniteLegale")
    verdicts.flag(
        band.ne("") & ~band.isin(headcount_bands()),
        "trancheEffectifsUniteLegale",
        "expected an INSEE headcount band (NN, 00 ... 53)",
    )
    size = _clean(frame, "categorieEntreprise")
    verdicts.flag(
        size.ne("") & ~size.isin(company_categories()),
        "categorieEntreprise",
        "expected PME, ETI, GE or empty",
    )

    activity = _clean(frame, "activitePrincipaleUniteLegale")
    nomenclature = _clean(frame, "nomenclatureActivitePrincipaleUniteLegale")
    is_rev2 = nomenclature.str.upper().eq("NAFREV2")
    old = nomenclature.str.upper().isin(OLD_NOMENCLATURES)
    verdicts.flag(
        nomenclature.ne("") & ~is_rev2 & ~old,
        "nomenclatureActivitePrincipaleUniteLegale",
        "expected NAFRev2, NAFRev1, NAF1993 or NAP",
    )
    verdicts.flag(
        is_rev2 & activity.ne("") & ~activity.isin(naf_codes),
        "activitePrincipaleUniteLegale",
        "expected a NAF rév. 2 sous-classe (e.g. 01.11Z), found " + activity,
    )
    verdicts.flag(
        nomenclature.eq("") & activity.ne("") & ~activity.isin(naf_codes),
        "activitePrincipaleUniteLegale",
        "activity code without nomenclature and not NAF rév. 2: " + activity,
    )

    natural = legal.str.startswith("1") | (
        _clean(frame, "denominationUniteLegale").eq("") & _clean(frame, "nomUniteLegale").ne("")
    )
    buyers = pd.DataFrame(
        {
            "buyer_id": siren,
            "siren": siren,
            "name": _names(frame, natural, siren),
            "country": "FR",
            "naf_code": activity.where(activity.isin(naf_codes) & ~old),
            "legal_category": legal.where(legal.ne("")),
            "creation_date": created.dt.date.astype("object").where(created.notna(), None),
            "headcount_band": band.where(band.ne("")),
            "size_category": size.where(size.ne("")),
            "status": status,
            "is_natural_person": natural.astype(bool),
            "registry_updated_at": processed_at,
            "old_nomenclature": old & activity.ne(""),
            "_line": lines.to_numpy(),
        }
    )
    bad = verdicts.bad
    rejected = rejected_rows(frame, lines, verdicts, RAW_COLUMNS)
    good = buyers[~bad].copy()
    order = good.assign(_ts=good["registry_updated_at"].fillna(pd.Timestamp.min)).sort_values(
        ["_ts", "_line"]
    )
    kept = order.drop_duplicates("buyer_id", keep="last").sort_values("_line")
    duplicates = len(good) - len(kept)
    accepted = kept.drop(columns=["_line", "_ts"]).reset_index(drop=True)
    return ParseResult(accepted=accepted, rejected=rejected, duplicates=duplicates, read=read)


def parse_file(path: Path) -> ParseResult:
    """Read a Sirene CSV (UTF-8 or Windows-1252, ``,`` or ``;``) and parse it."""
    return parse(read_csv_text(path, required=REQUIRED))
