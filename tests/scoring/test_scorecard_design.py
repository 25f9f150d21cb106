"""The scorecard's one-pass design matrix says, block by block, what scikit-learn's imputer,
missing indicator and one-hot encoder say (the blocks it replaces)."""

from __future__ import annotations

import threading
import time
import warnings

import numpy as np
import pandas as pd
import pytest
from sklearn.impute import MissingIndicator, SimpleImputer
from sklearn.preprocessing import OneHotEncoder

from scoring import model as scoring_model
from scoring.model import PREDICT_ROWS, map_slices, row_slices
from scoring.scorecard import ScorecardDesign

NUMERIC = ["ratio", "days", "empty", "full"]
CATEGORICAL = ["section", "form"]


def _frame(n: int, seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    ratio = rng.normal(size=n)
    ratio[rng.random(n) < 0.2] = np.nan
    days = rng.exponential(20, n)
    days[rng.random(n) < 0.05] = np.nan
    return pd.DataFrame(
        {
            "ratio": ratio,
            "days": days,
            "empty": np.full(n, np.nan),
            "full": rng.integers(0, 5, n).astype(float),
            # "R" is rare (infrequent); "form" has no rare value
            "section": rng.choice(["A", "B", "C", "R"], n, p=[0.5, 0.3, 0.195, 0.005]).astype(object),
            "form": rng.choice(["54", "55", "57"], n).astype(object),
        }
    )


def test_each_block_matches_the_scikit_learn_component_it_replaces() -> None:
    train, later = _frame(3_000, 1), _frame(500, 2)
    later.loc[:9, "section"] = "NEW"  # unseen: goes to the infrequent column
    later.loc[:9, "form"] = "99"  # unseen, and "form" has no infrequent column: no entry
    design = ScorecardDesign(numeric=NUMERIC, categorical=CATEGORICAL).fit(train)
    matrix = design.transform(later).toarray()
    k = len(NUMERIC)

    imputed = (
        SimpleImputer(strategy="median", keep_empty_features=True)
        .fit(train[NUMERIC])
        .transform(later[NUMERIC])
    )
    for j in range(k):
        expected_bin = design.bin_offsets_[j] + np.searchsorted(design.cuts_[j], imputed[:, j], side="right")
        assert (matrix[np.arange(len(later)), expected_bin] == 1).all()
        width = len(design.cuts_[j]) + 1
        assert (matrix[:, design.bin_offsets_[j] : design.bin_offsets_[j] + width].sum(axis=1) == 1).all()
    line = (np.clip(imputed, design.low_, design.high_) - design.mean_) / design.scale_
    np.testing.assert_allclose(matrix[:, design.line_offset_ : design.line_offset_ + k], line)

    flags = MissingIndicator(features="missing-only").fit(train[NUMERIC]).transform(later[NUMERIC])
    start = design.flag_offset_
    np.testing.assert_array_equal(matrix[:, start : start + flags.shape[1]], flags.astype(float))

    encoder = OneHotEncoder(handle_unknown="infrequent_if_exist", min_frequency=20, sparse_output=False)
    expected = encoder.fit(train[CATEGORICAL]).transform(later[CATEGORICAL])
    start += flags.shape[1]
    np.testing.assert_array_equal(matrix[:, start:], expected)
    assert matrix.shape[1] == design.n_columns_ == start + expected.shape[1]


def test_a_row_gets_the_same_design_alone_or_among_others() -> None:
    train = _frame(2_000, 3)
    design = ScorecardDesign(numeric=NUMERIC, categorical=CATEGORICAL).fit(train)
    whole = design.transform(train).toarray()
    for row in (0, 17, 1_999):
        np.testing.assert_array_equal(design.transform(train.iloc[[row]]).toarray()[0], whole[row])


def test_row_slices_cover_every_row_once_in_order() -> None:
    for rows, size in ((0, 3), (1, 3), (7, 3), (9, 3), (5, 100)):
        covered = [i for part in row_slices(rows, size) for i in range(rows)[part]]
        assert covered == list(range(rows))
    assert len(row_slices(1_000_000)) == -(-1_000_000 // PREDICT_ROWS)
    with pytest.raises(ValueError, match="at least one row, got 0"):
        row_slices(10, 0)


def test_slices_mapped_on_two_threads_come_back_in_order(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(scoring_model, "PREDICT_ROWS", 10)
    threads: set[str] = set()

    def work(part: slice) -> list[int]:
        threads.add(threading.current_thread().name)
        time.sleep(0.01)  # long enough for the second thread to take a slice
        return list(range(95)[part])

    results = map_slices(work, 95)
    assert [i for part in results for i in part] == list(range(95))
    assert len(results) == 10 and len(threads) == scoring_model.PREDICT_THREADS == 2
    threads.clear()
    assert map_slices(work, 7) == [list(range(7))] and threads == {threading.current_thread().name}


def test_warning_filters_set_by_slices_on_two_threads_are_not_left_behind(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """scikit-learn's checks enter warnings.catch_warnings() in each thread, which Python 3.11
    does not make thread-safe. Here the second slice enters while the first is inside and
    leaves after it: leaving, it puts back the filters as it found them, the first's included.
    The map puts the process's filters back as they were before it."""
    monkeypatch.setattr(scoring_model, "PREDICT_ROWS", 1)
    before = list(warnings.filters)
    both_inside, first_out = threading.Barrier(2), threading.Event()

    def work(part: slice) -> int:
        with warnings.catch_warnings():
            warnings.simplefilter("error", UserWarning)
            both_inside.wait(10)
            if part.start == 1:
                first_out.wait(10)
        if part.start == 0:
            first_out.set()
        return part.start

    assert map_slices(work, 2) == [0, 1]
    assert warnings.filters == before
