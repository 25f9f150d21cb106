"""Pure parse of BODACC notices into legal-event rows.

Accepts the three shapes of the ``annonces-commerciales`` dataset: the export's JSON array of
records (fields at top level), an API v1 response (``records[].fields``) and an API v2.1
response (``results[]``). ``registre`` may be a list or a comma-joined string; ``jugement``,
``listepersonnes``, ``depot`` and ``parutionavisprecedent`` may be JSON strings or objects.

Each notice becomes one row keyed by its own ``id`` with ``target_id``: itself for an initial
notice, the notice it refers to (``parutionavisprecedent``) for a rectificatif or an
annulation. Applying corrections needs the stored notices, so it happens in
:mod:`feeds.legal.resolve`. A notice without a valid SIREN is quarantined: an event that
cannot be tied to a company is useless to decisions and must be looked at.
"""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path
from typing import Any

import pandas as pd
from stdnum.fr import siren as stdnum_siren

from feeds.common import FeedFileError, ParseResult, decode, empty_rejected
from feeds.legal.natures import event_type
from feeds.legal.text import parse_date

NOTICE_TYPES = frozenset({"annonce", "rectificatif", "annulation"})
COLUMNS = [
    "notice_id",
    "target_id",
    "notice_type",
    "buyer_id",
    "event_type",
    "family",
    "nature_raw",
    "event_date",
    "publication_date",
    "accounts_closing_date",
]


class RecordError(ValueError):
    """One notice is unusable; ``field`` names the offending field."""

    def __init__(self, field: str, reason: str) -> None:
        super().__init__(reason)
        self.field = field
        self.reason = reason


def records_from_payload(payload: Any, *, file: str = "<payload>") -> list[Any]:
    """The list of notices (field dicts) of an export array, a v1 or a v2.1 response."""
    if isinstance(payload, list):
        return [
            r["fields"] if isinstance(r, dict) and isinstance(r.get("fields"), dict) else r for r in payload
        ]
    if isinstance(payload, dict):
        if isinstance(payload.get("records"), list):
            return [r.get("fields", r) if isinstance(r, dict) else r for r in payload["records"]]
        if isinstance(payload.get("results"), list):
            return list(payload["results"])
    found = (
        type(payload).__name__ if not isinstance(payload, dict) else f"object with keys {sorted(payload)[:6]}"
    )
    raise FeedFileError(
        f"{file}: expected a JSON array of notices or an API response with 'records' or 'results', found {found}"
    )


def _json_field(record: dict[str, Any], name: str) -> Any:
    value = record.get(name)
    if value is None or value == "":
        return None
    if isinstance(value, dict | list):
        return value
    if not isinstance(value, str):
        raise RecordError(name, f"expected a JSON object or a JSON string, found {type(value).__name__}")
    try:
        return json.loads(value)
    except json.JSONDecodeError as exc:
        raise RecordError(name, f"expected a JSON string, found invalid JSON ({exc.msg})") from None


def _persons(listing: Any) -> list[dict[str, Any]]:
    if isinstance(listing, dict):
        listing = listing.get("personne", listing)
    if isinstance(listing, dict):
        return [listing]
    if isinstance(listing, list):
        return [p for p in listing if isinstance(p, dict)]
    return []


def _candidate_sirens(record: dict[str, Any]) -> list[str]:
    registre = record.get("registre")
    tokens: list[str] = []
    if isinstance(registre, str):
        tokens = registre.split(",")
    elif isinstance(registre, list):
        tokens = [str(t) for t in registre]
    try:
        listing = _json_field(record, "listepersonnes")
    except RecordError:
        listing = None
    for person in _persons(listing):
        immat = person.get("numeroImmatriculation")
        if isinstance(immat, dict):
            tokens.append(str(immat.get("numeroIdentification", "")))
        rm = person.get("inscriptionRM")
        if isinstance(rm, dict):
            tokens.append(str(rm.get("numeroIdentificationRM", "")))
    return ["".join(t.split()) for t in tokens]


def siren_of(record: dict[str, Any]) -> str:
    for candidate in _candidate_sirens(record):
        if len(candidate) == 9 and candidate.isdigit() and stdnum_siren.is_valid(candidate):
            return candidate
    shown = record.get("registre")
    raise RecordError("registre", f"expected a SIREN passing the Luhn check, found {str(shown)[:40]!r}")


def referred_id(record: dict[str, Any]) -> str:
    """Id of the notice a rectificatif or annulation refers to: publication letter, parution
    number and notice number (``B20220227446`` = Bodacc B, parution 20220227, notice 446)."""
    previous = _json_field(record, "parutionavisprecedent")
    if isinstance(previous, list) and previous:
        previous = previous[0]
    if not isinstance(previous, dict):
        raise RecordError("parutionavisprecedent", "a correction must name the notice it refers to")
    for key in ("id", "idAnnonce"):
        if previous.get(key):
            return str(previous[key]).strip()
    publication = str(previous.get("nomPublication") or record.get("publicationavis") or "").strip()
    letter = publication[-1:].upper()
    parution = str(previous.get("numeroParution") or "").strip()
    number = str(previous.get("numeroAnnonce") or "").strip()
    if letter not in {"A", "B", "C"} or not parution.isdigit() or not number.isdigit():
        raise RecordError(
            "parutionavisprecedent",
            "expected nomPublication (BODACC A/B/C), numeroParution and numeroAnnonce",
        )
    return f"{letter}{parution}{int(number)}"


def _date(value: Any, field: str) -> date | None:
    try:
        return parse_date(value)
    except ValueError as exc:
        raise RecordError(field, str(exc)) from None


SECONDARY_DATES = {
    "radiationaurcs": ("dateCessationActivitePM", "dateCessationActivitePP", "dateCessationActivite"),
    "acte": ("dateCommencementActivite", "dateImmatriculation"),
}
"""Where a notice without a judgment carries the date of its event."""


def _secondary_date(record: dict[str, Any], family: str) -> date | None:
    """Date of a radiation (cessation of activity) or of a creation (start of activity)."""
    field = "radiationaurcs" if family == "radiation" else "acte"
    content = _json_field(record, field)
    if not isinstance(content, dict):
        return None
    for key in SECONDARY_DATES[field]:
        if content.get(key):
            return _date(content[key], f"{field}.{key}")
    return None


def notice_row(record: Any) -> dict[str, Any]:
    """One notice -> one event row (raises :class:`RecordError`)."""
    if not isinstance(record, dict):
        raise RecordError("record", f"expected a JSON object, found {type(record).__name__}")
    notice_id = str(record.get("id") or "").strip()
    if not notice_id or len(notice_id) > 40:
        raise RecordError("id", "expected the notice id (e.g. A202100451234)")
    published = _date(record.get("dateparution"), "dateparution")
    if published is None:
        raise RecordError("dateparution", "expected the publication date")
    notice_type = str(record.get("typeavis") or "annonce").strip().lower()
    if notice_type not in NOTICE_TYPES:
        raise RecordError(
            "typeavis", f"expected annonce, rectificatif or annulation, found {notice_type[:30]!r}"
        )
    siren = siren_of(record)
    family = str(record.get("familleavis") or "").strip().lower()
    judgment = _json_field(record, "jugement")
    if isinstance(judgment, list):
        judgment = judgment[0] if judgment else None
    nature = None
    event_date = None
    if isinstance(judgment, dict):
        raw_nature = judgment.get("nature")
        nature = str(raw_nature) if raw_nature is not None else None
        event_date = _date(judgment.get("date"), "jugement.date")
    if event_date is None:
        event_date = _secondary_date(record, family)
    depot = _json_field(record, "depot")
    closing = _date(depot.get("dateCloture"), "depot.dateCloture") if isinstance(depot, dict) else None
    target = notice_id if notice_type == "annonce" else referred_id(record)
    return {
        "notice_id": notice_id,
        "target_id": target,
        "notice_type": notice_type,
        "buyer_id": siren,
        "event_type": str(event_type(family, nature)),
        "family": family[:40] or None,
        "nature_raw": nature,
        "event_date": event_date,
        "publication_date": published,
        "accounts_closing_date": closing,
    }


def parse(records: list[Any]) -> ParseResult:
    """Validate notices (dicts as decoded from JSON) into event rows; record numbers are
    1-based positions in the list. The same notice id twice: the later one is a duplicate."""
    rows: list[dict[str, Any]] = []
    rejects: list[dict[str, Any]] = []
    for number, record in enumerate(records, start=1):
        try:
            row = notice_row(record)
        except RecordError as exc:
            rejects.append({"line": number, "field": exc.field, "reason": exc.reason, "raw": _raw(record)})
            continue
        row["_line"] = number
        rows.append(row)
    frame = pd.DataFrame(rows, columns=[*COLUMNS, "_line"])
    kept = frame.drop_duplicates("notice_id", keep="first")
    rejected = pd.DataFrame(rejects) if rejects else empty_rejected()
    return ParseResult(
        accepted=kept.reset_index(drop=True),
        rejected=rejected,
        duplicates=len(frame) - len(kept),
        read=len(records),
    )


def _raw(record: Any) -> str:
    """The notice as raw text for the quarantine, without the persons' listing (names)."""
    if isinstance(record, dict):
        record = {k: v for k, v in record.items() if k not in {"listepersonnes", "commercant"}}
    try:
        return json.dumps(record, ensure_ascii=False, default=str)[:2000]
    except (TypeError, ValueError):
        return repr(record)[:2000]


def parse_file(path: Path) -> ParseResult:
    """Read a BODACC JSON file (UTF-8 or Windows-1252) in any of the three shapes and parse it."""
    text = decode(path.read_bytes(), file=str(path))
    try:
        payload = json.loads(text)
    except json.JSONDecodeError as exc:
        raise FeedFileError(
            f"{path}: expected JSON, found invalid JSON at line {exc.lineno} column {exc.colno} ({exc.msg})"
        ) from None
    return parse(records_from_payload(payload, file=str(path)))
