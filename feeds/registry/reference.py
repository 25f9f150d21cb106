"""Run-time reference lists of the registry feed, read once from ``config/reference/``.

Kept in data files (not code) so a new INSEE list is a file swap with its source noted in
``config/reference/SOURCES.md``."""

from __future__ import annotations

import csv
from functools import lru_cache

from config.settings import CONFIG_DIR

REFERENCE_DIR = CONFIG_DIR / "reference"


@lru_cache(maxsize=1)
def naf_rev2_codes() -> frozenset[str]:
    """The 732 NAF rév. 2 sous-classes (``01.11Z`` form)."""
    with (REFERENCE_DIR / "naf_rev2_sous_classes.csv").open(encoding="utf-8", newline="") as handle:
        return frozenset(row["NIV5"].strip() for row in csv.DictReader(handle, delimiter=";"))


def _codes(name: str) -> frozenset[str]:
    with (REFERENCE_DIR / name).open(encoding="utf-8", newline="") as handle:
        return frozenset(row["code"].strip() for row in csv.DictReader(handle))


@lru_cache(maxsize=1)
def headcount_bands() -> frozenset[str]:
    """INSEE ``trancheEffectifsUniteLegale`` codes (``NN``, ``00`` … ``53``)."""
    return _codes("sirene_tranche_effectifs.csv")


@lru_cache(maxsize=1)
def company_categories() -> frozenset[str]:
    """INSEE ``categorieEntreprise``: PME, ETI, GE."""
    return _codes("sirene_categorie_entreprise.csv")
