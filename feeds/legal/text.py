"""Text repair for BODACC fields: mis-encoded UTF-8, French text dates, nature spelling."""

from __future__ import annotations

import re
import unicodedata
from datetime import date

MONTHS = {
    "janvier": 1,
    "fevrier": 2,
    "mars": 3,
    "avril": 4,
    "mai": 5,
    "juin": 6,
    "juillet": 7,
    "aout": 8,
    "septembre": 9,
    "octobre": 10,
    "novembre": 11,
    "decembre": 12,
}
FRENCH_DATE = re.compile(r"^(\d{1,2})(?:er)?\s+([a-z]+)\.?\s+(\d{4})$")
ISO_DATE = re.compile(r"^(\d{4})-(\d{2})-(\d{2})(?:[T ].*)?$")
MOJIBAKE_MARKS = ("Ã", "Â", "â€")


def fix_mojibake(text: str) -> str:
    """Undo UTF-8 read as Latin-1/Windows-1252 (``clÃ´ture`` -> ``clôture``); else unchanged."""
    if not any(mark in text for mark in MOJIBAKE_MARKS):
        return text
    for codec in ("cp1252", "latin-1"):
        try:
            return text.encode(codec).decode("utf-8")
        except (UnicodeEncodeError, UnicodeDecodeError):
            continue
    return text


def fold(text: str) -> str:
    """Lower-case, accents and apostrophe variants removed, whitespace collapsed: the key under
    which two spellings of one nature (any case, stray spaces, mis-encoding) compare equal."""
    repaired = fix_mojibake(text)
    decomposed = unicodedata.normalize("NFKD", repaired)
    plain = "".join(ch for ch in decomposed if not unicodedata.combining(ch))
    plain = plain.replace("’", "'").replace("‘", "'").replace("`", "'")
    return " ".join(plain.lower().split())


def parse_date(value: object) -> date | None:
    """ISO ``YYYY-MM-DD`` (time part ignored) or French text (``10 décembre 2009``,
    ``1er mars 2010``, mis-encoded ``10 dÃ©cembre 2009``). ``None`` for empty input.

    Raises ValueError when the text is neither."""
    if value is None:
        return None
    text = str(value).strip()
    if not text:
        return None
    iso = ISO_DATE.match(text)
    if iso:
        return date(int(iso.group(1)), int(iso.group(2)), int(iso.group(3)))
    french = FRENCH_DATE.match(fold(text))
    if french and french.group(2) in MONTHS:
        return date(int(french.group(3)), MONTHS[french.group(2)], int(french.group(1)))
    raise ValueError(f"expected an ISO date or a French date like '10 décembre 2009', found {text[:40]!r}")
