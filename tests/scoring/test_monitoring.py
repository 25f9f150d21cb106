"""Monitoring maths: PSI, Jeffreys test per grade, backtest AUC."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from scoring.model import bin_shares
from scoring.monitoring import backtest, jeffreys_pvalue, psi, psi_table


def test_psi_is_zero_for_the_same_population_and_grows_with_drift():
    rng = np.random.default_rng(0)
    base = pd.Series(rng.normal(size=20_000))
    edges = sorted(np.quantile(base, np.linspace(0.1, 0.9, 9)).tolist())
    expected = bin_shares(base, edges)
    assert psi(expected, bin_shares(pd.Series(rng.normal(size=20_000)), edges)) < 0.01
    shifted = psi(expected, bin_shares(pd.Series(rng.normal(0.5, 1, 20_000)), edges))
    assert 0.1 < shifted < 0.5
    assert psi(expected, bin_shares(pd.Series(rng.normal(2, 1, 20_000)), edges)) > 0.25


def test_psi_table_covers_numeric_categorical_and_score():
    reference = {
        "features": {
            "x": {"kind": "numeric", "edges": [0.0], "shares": [0.5, 0.5, 0.0]},
            "c": {"kind": "categorical", "shares": {"a": 0.5, "b": 0.5}},
        },
        "score": {"kind": "numeric", "edges": [0.1], "shares": [0.5, 0.5, 0.0]},
    }
    frame = pd.DataFrame({"x": [-1.0, 1.0, 2.0, np.nan], "c": ["a", "a", "a", "z"]})
    table = psi_table(reference, frame, pd.Series([0.01, 0.5, 0.6, 0.7])).set_index("subject")["value"]
    assert set(table.index) == {"x", "c", "score"}
    assert (table > 0).all()


def test_jeffreys_flags_a_grade_with_too_many_defaults():
    assert jeffreys_pvalue(1000, 2, 0.002) > 0.3  # as predicted
    assert jeffreys_pvalue(1000, 12, 0.002) < 0.001  # six times the PD
    assert jeffreys_pvalue(1000, 0, 0.002) > 0.8


def test_backtest_auc_and_per_grade_counts():
    scores = pd.DataFrame(
        {"buyer_id": ["a", "b", "c", "d"], "pd_12m": [0.01, 0.02, 0.2, 0.3], "grade": [3, 3, 9, 9]}
    )
    target = pd.Series([0, 0, 1, 0], index=["a", "b", "c", "d"])
    auc, per_grade = backtest(scores, target)
    assert auc == pytest.approx(2 / 3)
    assert per_grade.set_index("grade")["defaults"].to_dict() == {3: 0, 9: 1}
    none_auc, _ = backtest(scores, pd.Series(0, index=["a", "b", "c", "d"]))
    assert none_auc is None
