"""BODACC judgment natures -> :class:`models.codes.LegalEventType`.

The table is data (``config/reference/bodacc_natures.csv``): every nature observed in the
BODACC feed, each mapped deliberately, including those that truly are ``other``. Lookup is on
the folded text (any case, accents, stray spaces, mis-encoding). A nature not in the table is
``other`` and its raw text is kept on the event, never dropped.
"""

from __future__ import annotations

import csv
from functools import lru_cache

from config.settings import CONFIG_DIR
from feeds.legal.text import fold
from models.codes import LegalEventType

NATURES_FILE = CONFIG_DIR / "reference" / "bodacc_natures.csv"

FAMILY_EVENTS = {
    "radiation": LegalEventType.RADIATION,
    "dpc": LegalEventType.ACCOUNTS_FILED,
}
"""Families whose notices are one event whatever their content."""


@lru_cache(maxsize=1)
def nature_table() -> dict[str, LegalEventType]:
    """Folded nature -> event type, from the reference file."""
    with NATURES_FILE.open(encoding="utf-8", newline="") as handle:
        return {fold(row["nature"]): LegalEventType(row["event_type"]) for row in csv.DictReader(handle)}


def event_type(family: str, nature: str | None) -> LegalEventType:
    """The typed event of a notice from its ``familleavis`` and its judgment nature."""
    if family in FAMILY_EVENTS:
        return FAMILY_EVENTS[family]
    if nature is None:
        return LegalEventType.OTHER
    return nature_table().get(fold(nature), LegalEventType.OTHER)


def is_known(nature: str) -> bool:
    """True when the nature is in the table (so ``other`` for it is a decision, not a miss)."""
    return fold(nature) in nature_table()
