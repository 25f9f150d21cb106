"""Every BODACC judgment nature seen in the feed maps to a deliberate event type."""

from __future__ import annotations

import csv

import pytest

from feeds.legal.natures import event_type, is_known, nature_table
from feeds.legal.text import fix_mojibake, fold
from models.codes import COLLECTIVE_OPENINGS, LegalEventType
from tests.conftest import SHARED_DATA

BODACC = SHARED_DATA / "bodacc"


def observed() -> list[str]:
    """The 82 lower-cased natures of the 2021 feed, kept with their stray spaces and the empty
    line (which a CSV reader would skip)."""
    lines = (BODACC / "jugement_natures_observed_plansde.csv").read_text(encoding="utf-8").splitlines()
    assert lines[0] == "NATURE"
    return lines[1:]


def exact_case() -> list[str]:
    with (BODACC / "jugement_natures_ods_exactcase_transcribed.csv").open(
        encoding="utf-8", newline=""
    ) as handle:
        return [row["nature"] for row in csv.DictReader(handle)]


TRULY_OTHER = {
    "autre jugement prononcant",
    "autres jugements et ordonnances",
    "autre jugement et ordonnance",
    "autre jugement de liquidation des biens",
    "jugement autorisant la reprise des poursuites individuelles des creanciers",
    "arret de la cour d'appel infirmant une decision soumise a publicite",
    "autre arret de la cour d'appel",
    "arrets divers",
    "retractation de jugement d'ouverture sur tierce opposition",
    "retractation de prononce de liquidation judiciaire sur tierce opposition",
    "retractation de prononce de redressement judiciaire sur tierce opposition",
    "autre retractation sur tierce opposition",
}


def test_the_lists_have_the_documented_sizes() -> None:
    assert len(observed()) == 82 and len(exact_case()) == 47


@pytest.mark.parametrize("source", ["observed", "exact_case"])
def test_every_nature_is_in_the_table_and_other_only_where_meant(source: str) -> None:
    natures = observed() if source == "observed" else exact_case()
    for nature in natures:
        if nature.strip() == "":
            assert event_type("collective", nature) is LegalEventType.OTHER
            continue
        assert is_known(nature), nature
        mapped = event_type("collective", nature)
        assert (mapped is LegalEventType.OTHER) == (fold(nature) in TRULY_OTHER), nature


def test_the_table_has_no_entry_beyond_the_observed_natures() -> None:
    seen = {fold(n) for n in observed() + exact_case()}
    assert set(nature_table()) == seen - {""}


@pytest.mark.parametrize(
    ("nature", "expected"),
    [
        ("jugement d'ouverture de liquidation judiciaire", LegalEventType.OPEN_LJ),
        ("jugement d'ouverture d'une procédure de redressement judiciaire", LegalEventType.OPEN_RJ),
        (
            "jugement d'ouverture d'une procédure de sauvegarde financière accélérée",
            LegalEventType.OPEN_SAUVEGARDE,
        ),
        ("jugement de conversion en liquidation judiciaire", LegalEventType.CONVERSION_LJ),
        (
            "jugement prononçant la résolution du plan de cession et la liquidation judiciaire",
            LegalEventType.CONVERSION_LJ,
        ),
        (
            "jugement de conversion en redressement judiciaire de la procédure de sauvegarde",
            LegalEventType.CONVERSION_RJ,
        ),
        ("jugement prononçant la résolution du plan de redressement", LegalEventType.PLAN_RESOLUTION),
        ("jugement arrêtant un plan de cession", LegalEventType.PLAN),
        ("jugement de clôture pour insuffisance d'actif", LegalEventType.CLOSURE),
        ("jugement mettant fin à la procédure de sauvegarde", LegalEventType.CLOSURE),
        ("jugement de faillite personnelle loi de 1985", LegalEventType.SANCTION),
        ("dépôt de l'état des créances", LegalEventType.ADMINISTRATIVE_FILING),
    ],
)
def test_key_natures_and_their_spelling_variants(nature: str, expected: LegalEventType) -> None:
    mojibake = nature.encode("utf-8").decode("cp1252", errors="replace")
    for variant in (nature, nature.upper(), f"  {nature}  ", nature.replace(" ", "  "), mojibake):
        assert event_type("collective", variant) is expected, variant
    assert fix_mojibake(mojibake) == nature or "�" in mojibake


def test_the_commonest_closure_is_not_a_collective_opening() -> None:
    # "never count raw notices as failures": closures for lack of assets are the commonest notice
    assert (
        event_type("collective", "jugement de clôture pour insuffisance d'actif") not in COLLECTIVE_OPENINGS
    )


def test_families_that_are_events_by_themselves() -> None:
    assert event_type("radiation", None) is LegalEventType.RADIATION
    assert event_type("dpc", None) is LegalEventType.ACCOUNTS_FILED
    assert event_type("modification", None) is LegalEventType.OTHER
