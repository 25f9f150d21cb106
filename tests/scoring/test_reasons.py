"""Reason codes: every feature has a stable code; reasons are computed for all buyers at once."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from scoring.features import BUYER_FEATURES, EXTRA_COLUMNS
from scoring.reasons import build_tables, contributions, load_reason_codes, top_reasons
from scoring.service import REASON_CODES_FILE


@pytest.fixture(scope="module")
def codes():
    return load_reason_codes(REASON_CODES_FILE)


def test_every_feature_has_a_code_with_both_labels(codes):
    for name in [*BUYER_FEATURES.names, *EXTRA_COLUMNS]:
        assert name in codes, name
        assert codes[name].fr and codes[name].en
    # published codes never change meaning
    assert codes["equity_ratio"].code == "F01"
    assert codes["days_beyond_terms"].code == "P01"
    assert codes["collective_procedure"].code == "D01"


def test_top_reasons_pick_the_strongest_positive_drivers(codes):
    contrib = pd.DataFrame(
        {
            "equity_ratio": [0.9, -0.5, 0.0],
            "days_beyond_terms": [0.2, -0.1, 0.0],
            "judgments_12m": [0.5, 0.3, 0.0],
            "oecd_category": [0.1, -0.2, 0.0],
        },
        index=["a", "b", "c"],
    )
    got = top_reasons(contrib, codes)
    assert got.tolist() == ["F01,L01,P01", "L01", ""]


def test_reasons_do_not_depend_on_row_order(codes):
    rng = np.random.default_rng(0)
    contrib = pd.DataFrame(
        rng.normal(size=(500, 4)), columns=["equity_ratio", "debt_ratio", "naf_section", "late_accounts"]
    )
    got = top_reasons(contrib, codes)
    shuffled = contrib.sample(frac=1, random_state=1)
    assert top_reasons(shuffled, codes).reindex(got.index).equals(got)


def test_tables_recover_an_additive_model():
    """On an additive logit model the tabulated contributions are its own terms (centred)."""
    rng = np.random.default_rng(1)
    frame = pd.DataFrame(
        {"x": rng.uniform(0, 1, 300), "z": rng.uniform(0, 1, 300), "c": rng.choice(["a", "b"], 300)}
    )

    def predict(f: pd.DataFrame) -> np.ndarray:
        logit = -3 + 2.0 * f["x"].fillna(0.5) - 1.0 * f["z"].fillna(0.5) + (f["c"] == "b") * 0.7
        return 1 / (1 + np.exp(-logit.to_numpy(dtype=float)))

    tables = build_tables(predict, frame, ["x", "z"], ["c"])
    got = contributions(tables, frame)
    expected_x = 2.0 * (frame["x"] - frame["x"].mean())
    assert np.allclose(got["x"], expected_x, atol=0.02)
    assert np.allclose(got["z"], -1.0 * (frame["z"] - frame["z"].mean()), atol=0.02)
    assert got.loc[frame["c"] == "b", "c"].iloc[0] - got.loc[frame["c"] == "a", "c"].iloc[0] == pytest.approx(
        0.7
    )
    missing = contributions(tables, frame.assign(x=np.nan))
    assert np.allclose(missing["x"], 2.0 * (0.5 - frame["x"].mean()), atol=0.02)
