"""Pure parse of the OECD country risk classification, wide or long, and the grade lookup.

Both layouts are read as the same records: one (country, date, category) per cell of the
wide table or per line of the long form. So both reconcile alike: ``read`` = records,
``accepted`` = records that change the country's grade (including its first), ``duplicates``
= records that repeat the grade already in force (nothing to store), ``quarantined`` = bad
records (unknown country code, unreadable category or date).

``-`` means *not classified* (high-income OECD and euro-area countries): ``category`` NULL,
its own state, never 0. A ``-`` followed by digits (Israel's ``-3`` in the 2022 table, a
footnote marker glued to the dash) is read as ``-``.
"""

from __future__ import annotations

import re
from datetime import date, datetime
from pathlib import Path

import pandas as pd
import pycountry

from feeds.common import FeedFileError, ParseResult, Verdicts, decode, read_csv_text, rejected_rows

WIDE_ID_COLUMNS = ("Country Name (1)", "ISO", "country name")
LONG_COLUMNS = ("country", "category", "valid_from")
ISO3_OVERRIDES = {"XKV": "XK", "XKX": "XK"}
"""Codes the OECD uses that ISO 3166 has not assigned (Kosovo): mapped to the user-assigned
``XK`` used by the European Commission and most banks."""
WIDE_DATE = re.compile(r"^\d{2}-[A-Za-z]{3}-\d{2}$")


def iso2(codes: pd.Series) -> pd.Series:
    """ISO alpha-2 or alpha-3 text -> alpha-2 (NA where unknown), one lookup per distinct code."""
    text = codes.astype(str).fillna("").str.strip().str.upper()
    mapping: dict[str, str | None] = {}
    for code in pd.unique(text):
        if code in ISO3_OVERRIDES:
            mapping[code] = ISO3_OVERRIDES[code]
            continue
        found = None
        if len(code) == 3:
            found = pycountry.countries.get(alpha_3=code)
        elif len(code) == 2:
            found = pycountry.countries.get(alpha_2=code)
            if found is None and code == "XK":
                mapping[code] = "XK"
                continue
        mapping[code] = found.alpha_2 if found is not None else None
    return text.map(mapping)


def wide_date(header: str) -> date:
    """``DD-Mon-YY`` column header -> date (years 00-68 are 20xx, 69-99 are 19xx)."""
    return datetime.strptime(header.strip(), "%d-%b-%y").date()


def wide_to_records(frame: pd.DataFrame, *, file: str = "<frame>") -> pd.DataFrame:
    """The wide table as records ``country_raw``, ``category_raw``, ``valid_from_raw``, ``_line``.

    Raises :class:`FeedFileError` if a date column header is not ``DD-Mon-YY``."""
    dates = [c for c in frame.columns if c not in WIDE_ID_COLUMNS and c != "_line"]
    for column in dates:
        if not WIDE_DATE.match(column.strip()):
            raise FeedFileError(f"{file}: expected date columns like 01-Jan-99, found column {column!r}")
    lines = frame["_line"] if "_line" in frame else pd.Series(range(2, len(frame) + 2), index=frame.index)
    melted = (
        frame.assign(_line=lines)[["ISO", "_line", *dates]]
        .melt(id_vars=["ISO", "_line"], var_name="valid_from_raw", value_name="category_raw")
        .rename(columns={"ISO": "country_raw"})
    )
    iso_dates = {c: wide_date(c).isoformat() for c in dates}
    melted["valid_from_raw"] = melted["valid_from_raw"].map(iso_dates)
    return melted


def long_to_records(frame: pd.DataFrame) -> pd.DataFrame:
    lines = frame["_line"] if "_line" in frame else pd.Series(range(2, len(frame) + 2), index=frame.index)
    return pd.DataFrame(
        {
            "country_raw": frame["country"],
            "category_raw": frame["category"],
            "valid_from_raw": frame["valid_from"],
            "_line": lines,
        }
    )


def parse(frame: pd.DataFrame) -> ParseResult:
    """Wide or long raw frame (strings) -> change rows ``country``, ``valid_from``, ``category``."""
    if all(c in frame.columns for c in LONG_COLUMNS):
        records = long_to_records(frame)
    elif "ISO" in frame.columns:
        records = wide_to_records(frame)
    else:
        raise FeedFileError(
            "<frame>: expected column 'ISO' (wide table) or 'country', 'category', 'valid_from' (long form)"
        )
    return parse_records(records)


def parse_records(records: pd.DataFrame) -> ParseResult:
    """Validate (country, category, date) records and keep only the changes of grade."""
    records = records.reset_index(drop=True)
    read = len(records)
    country = iso2(records["country_raw"])
    category_text = records["category_raw"].astype(str).fillna("").str.strip()
    unclassified = category_text.str.fullmatch(r"-\d*").fillna(False)
    graded = category_text.str.fullmatch(r"[0-7]").fillna(False)
    category = pd.to_numeric(category_text.where(graded), errors="coerce").astype("Int64")
    valid_text = records["valid_from_raw"].astype(str).fillna("").str.strip()
    valid_from = pd.to_datetime(
        valid_text.where(valid_text.str.fullmatch(r"\d{4}-\d{2}-\d{2}").fillna(False)),
        format="%Y-%m-%d",
        errors="coerce",
    )
    verdicts = Verdicts(records.index)
    verdicts.flag(country.isna(), "country", "expected an ISO 3166 alpha-2 or alpha-3 country code")
    verdicts.flag(valid_from.isna(), "valid_from", "expected an ISO date YYYY-MM-DD (or a DD-Mon-YY column)")
    verdicts.flag(~(graded | unclassified), "category", "expected a category 0 to 7 or - (not classified)")
    bad = verdicts.bad
    rejected = rejected_rows(
        records, records["_line"], verdicts, ("country_raw", "valid_from_raw", "category_raw")
    )
    good = pd.DataFrame(
        {"country": country, "valid_from": valid_from, "category": category, "_line": records["_line"]}
    )[~bad]
    changes = only_changes(good)
    accepted = changes.assign(valid_from=changes["valid_from"].dt.date)[["country", "valid_from", "category"]]
    return ParseResult(
        accepted=accepted.reset_index(drop=True),
        rejected=rejected,
        duplicates=len(good) - len(changes),
        read=read,
    )


def only_changes(grades: pd.DataFrame) -> pd.DataFrame:
    """Per country in date order, the rows whose category differs from the previous one (the
    first included). Two records of one (country, date): the later line wins."""
    order = ["country", "valid_from", "_line"] if "_line" in grades else ["country", "valid_from"]
    ordered = grades.sort_values(order).drop_duplicates(["country", "valid_from"], keep="last")
    state = ordered["category"].astype("Int64").fillna(-1)
    previous = state.groupby(ordered["country"]).shift(1)
    changed = previous.isna() | (previous != state)
    return ordered[changed.to_numpy(dtype=bool)]


def grade_at(grades: pd.DataFrame, as_of: date) -> pd.DataFrame:
    """The grade in force at ``as_of`` per country: ``country``, ``category`` (Int64, NA when
    not classified), ``classified`` (bool). Countries with no grade yet at that date are absent
    (unknown, which is not the same as not classified)."""
    dated = grades.assign(_valid=pd.to_datetime(grades["valid_from"]))
    known = dated[dated["_valid"] <= pd.Timestamp(as_of)]
    latest = known.sort_values(["country", "_valid"]).drop_duplicates("country", keep="last")
    category = latest["category"].astype("Int64").reset_index(drop=True)
    return pd.DataFrame(
        {
            "country": latest["country"].astype("object").reset_index(drop=True),
            "category": category,
            "classified": category.notna().astype(bool),
        }
    )


def parse_file(path: Path) -> ParseResult:
    """Read an OECD CSV, wide (``ISO`` + date columns) or long (``country``, ``category``,
    ``valid_from``), and parse it."""
    header = decode(path.read_bytes()[:4096], file=str(path)).split("\n", 1)[0]
    if "valid_from" in header or "category" in header:
        frame = read_csv_text(path, required=LONG_COLUMNS)
        return parse_records(long_to_records(frame))
    frame = read_csv_text(path, required=("ISO",))
    return parse_records(wide_to_records(frame, file=str(path)))
