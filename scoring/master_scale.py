"""The master scale: PD bands -> grades 1 (best) to 10 (default) and S&P-style letters.

Why letters on top of grades: the seed 002 portfolio indicators are stated in rating-agency
terms ("BBB- or better", "CCC or below"). The ordering of the full S&P letter list lets those
tests work on any letter a future scale might use, not only the ten shipped today."""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from scoring.errors import ScoringError, read_yaml_list

SP_LETTERS: tuple[str, ...] = (
    "AAA", "AA+", "AA", "AA-", "A+", "A", "A-", "BBB+", "BBB", "BBB-", "BB+", "BB", "BB-",
    "B+", "B", "B-", "CCC+", "CCC", "CCC-", "CC", "C", "SD", "D",
)  # fmt: skip
"""S&P long-term issuer letters, best first."""

_RANK = {letter: rank for rank, letter in enumerate(SP_LETTERS)}
DEFAULT_GRADE = 10


@dataclass(frozen=True)
class MasterScale:
    """Grades 1..n with their letters and PD upper bounds (the last grade is the default grade)."""

    version: str
    grades: tuple[int, ...]
    letters: tuple[str, ...]
    upper_pd: tuple[float, ...]
    """Upper bound of every grade but the last (strictly increasing)."""

    def grade_of(self, pd_values: pd.Series) -> pd.Series:
        """Grade of each PD (vectorised). A PD of 1 (or above the last bound) is the default grade."""
        values = pd.to_numeric(pd_values, errors="coerce").to_numpy(dtype=float)
        if np.isnan(values).any():
            raise ScoringError(f"expected a PD for every buyer, found {int(np.isnan(values).sum())} missing")
        index = np.searchsorted(np.asarray(self.upper_pd), values, side="right")
        grades = np.asarray(self.grades)[np.minimum(index, len(self.grades) - 1)]
        return pd.Series(grades, index=pd_values.index, name="grade", dtype="int64")

    def letter_of(self, grades: pd.Series) -> pd.Series:
        """S&P-style letter of each grade."""
        mapping = dict(zip(self.grades, self.letters, strict=True))
        letters = grades.map(mapping)
        if letters.isna().any():
            bad = sorted(set(grades[letters.isna()].tolist()))
            raise ScoringError(f"expected grades {self.grades[0]}..{self.grades[-1]}, found {bad}")
        return letters.rename("rating")


def load_master_scale(path: Path) -> MasterScale:
    """Read and validate the YAML master scale (grades 1..n, known letters, increasing bounds)."""
    raw, rows = read_yaml_list(path, "grades", "master scale")
    grades = tuple(int(r["grade"]) for r in rows)
    letters = tuple(str(r["letter"]) for r in rows)
    bounds = tuple(r.get("upper_pd") for r in rows)
    if grades != tuple(range(1, len(grades) + 1)):
        raise ScoringError(f"{path}: expected grades 1..{len(grades)} in order, found {list(grades)}")
    unknown = [x for x in letters if x not in _RANK]
    if unknown:
        raise ScoringError(f"{path}: expected S&P letters ({', '.join(SP_LETTERS)}), found {unknown}")
    if any(_RANK[a] >= _RANK[b] for a, b in itertools.pairwise(letters)):
        raise ScoringError(f"{path}: expected letters from best to worst, found {list(letters)}")
    upper = bounds[:-1]
    if bounds[-1] is not None or any(b is None for b in upper):
        raise ScoringError(f"{path}: every grade but the last needs upper_pd; the last (default) has none")
    upper_f = tuple(float(b) for b in upper)  # type: ignore[arg-type]
    if any(a >= b for a, b in itertools.pairwise(upper_f)) or not upper_f[0] > 0:
        raise ScoringError(f"{path}: expected strictly increasing upper_pd, found {list(upper_f)}")
    return MasterScale(str(raw.get("version", "")), grades, letters, upper_f)


def _rank(letters: pd.Series) -> pd.Series:
    ranks = letters.map(_RANK)
    if ranks.isna().any():
        bad = sorted(set(letters[ranks.isna()].astype(str)))
        raise ScoringError(f"expected S&P letters, found {bad}")
    return ranks


def is_investment_grade(letters: pd.Series) -> pd.Series:
    """ "Good risks" of seed 002: rated BBB- or better."""
    return _rank(letters) <= _RANK["BBB-"]


def is_ccc_or_below(letters: pd.Series) -> pd.Series:
    """ "Less good risks" of seed 002: rated CCC or below (CCC+ is still intermediate)."""
    return _rank(letters) >= _RANK["CCC"]
