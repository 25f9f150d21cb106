"""The master scale: monotone bands, S&P letters, seed 002 indicator tests."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from config.settings import load_settings
from scoring.errors import ScoringError
from scoring.master_scale import is_ccc_or_below, is_investment_grade, load_master_scale


@pytest.fixture(scope="module")
def scale():
    return load_master_scale(load_settings().paths.master_scale_file)


def test_grades_are_monotone_in_pd_and_cover_one_to_ten(scale):
    pds = pd.Series(np.concatenate([np.geomspace(1e-6, 0.999, 500), [1.0]]))
    grades = scale.grade_of(pds)
    assert grades.is_monotonic_increasing
    assert grades.min() == 1 and grades.max() == 10
    assert grades.iloc[-1] == 10 and (grades.iloc[:-1] < 10).all()
    assert scale.grade_of(pd.Series([0.0003, 0.00029999])).tolist() == [2, 1]  # upper bound excluded


def test_letters_and_indicators(scale):
    letters = scale.letter_of(pd.Series(range(1, 11)))
    assert letters.tolist() == ["AA", "A", "BBB", "BBB-", "BB", "BB-", "B", "B-", "CCC", "D"]
    assert is_investment_grade(letters).tolist() == [True] * 4 + [False] * 6
    assert is_ccc_or_below(letters).tolist() == [False] * 8 + [True] * 2
    assert not is_ccc_or_below(pd.Series(["CCC+"])).iloc[0]  # CCC+ is intermediate (seed 002)
    assert is_investment_grade(pd.Series(["BBB-", "BB+"])).tolist() == [True, False]


def test_missing_pd_and_unknown_letter_are_named(scale):
    with pytest.raises(ScoringError, match="1 missing"):
        scale.grade_of(pd.Series([0.1, None]))
    with pytest.raises(ScoringError, match="ZZ"):
        is_investment_grade(pd.Series(["ZZ"]))


def test_a_scale_with_decreasing_bounds_is_rejected(tmp_path: Path):
    bad = tmp_path / "scale.yaml"
    bad.write_text(
        "grades:\n  - {grade: 1, letter: AA, upper_pd: 0.01}\n  - {grade: 2, letter: A, upper_pd: 0.005}\n"
        "  - {grade: 3, letter: D, upper_pd: null}\n"
    )
    with pytest.raises(ScoringError, match="strictly increasing"):
        load_master_scale(bad)
