"""The two candidate pipelines, their calibration, and the model object stored in the registry.

Why two candidates: a gradient-boosted model (HistGradientBoosting, with monotonic
constraints where the business sign is known) usually ranks better; a binned logistic
scorecard is simpler to explain and to audit. Both are measured on the same out-of-time
sample and the better one is kept (the scorecard wins a near tie, see :func:`choose`).
Calibration (``CalibratedClassifierCV``, ``ensemble=False`` so scoring runs one model, not
three) makes the output a PD that the master scale can band.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, TypeVar

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.calibration import CalibratedClassifierCV
from sklearn.compose import ColumnTransformer
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.frozen import FrozenEstimator
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import brier_score_loss, roc_auc_score, roc_curve
from sklearn.model_selection import StratifiedKFold, train_test_split
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import OrdinalEncoder
from threadpoolctl import threadpool_limits

from scoring import reasons
from scoring.features import FeatureSpec
from scoring.scorecard import ScorecardDesign

T = TypeVar("T")

KINDS = ("hgb", "logistic")
NEAR_TIE_AUC = 0.005
"""Below this AUC gap the logistic scorecard is kept: same ranking power, simpler to explain."""
TRAINING_THREADS = 1
"""OpenMP threads while training. Training sets here are small (thousands to a few hundred
thousand rows) and on a shared 2-core machine OpenMP spin-waiting under load made one
HistGradientBoosting fit 30x slower (21 s instead of 0.6 s): one thread is the robust choice."""
REFERENCE_SAMPLE = 400
"""Rows used to tabulate reason-code dependence (enough for stable averages, fast)."""


class FillEmpty(TransformerMixin, BaseEstimator):
    """Replace numeric columns that were entirely missing at fit time by 0 (also at predict).

    Why: HistGradientBoosting cannot bin a column with no value at all (e.g. no buyer's
    country classified by the OECD in a training set); a constant column is simply unused."""

    def __init__(self, columns: list[str] | None = None) -> None:
        self.columns = columns

    def fit(self, X: pd.DataFrame, y: object = None) -> FillEmpty:
        names = self.columns if self.columns is not None else list(X.columns)
        self.empty_ = [c for c in names if X[c].isna().all()]
        return self

    def transform(self, X: pd.DataFrame) -> pd.DataFrame:
        if not self.empty_:
            return X
        return X.assign(**dict.fromkeys(self.empty_, 0.0))


def _hgb(spec: FeatureSpec, *, seed: int, rows: int = 0) -> Pipeline:
    cats = list(spec.categorical)
    nums = list(spec.numeric)
    encode = ColumnTransformer(
        [
            (
                "cat",
                OrdinalEncoder(
                    handle_unknown="use_encoded_value",
                    unknown_value=-1,
                    encoded_missing_value=-1,
                    min_frequency=5,
                ),
                cats,
            ),
            ("num", "passthrough", nums),
        ],
        verbose_feature_names_out=False,
    )
    model = HistGradientBoostingClassifier(
        learning_rate=0.08,
        max_iter=150,
        max_leaf_nodes=8,
        # stacked snapshots repeat each buyer: large leaves keep trees from learning buyers
        min_samples_leaf=max(40, rows // 500),
        l2_regularization=1.0,
        early_stopping=True,
        validation_fraction=0.15,
        n_iter_no_change=25,
        categorical_features=[True] * len(cats) + [False] * len(nums),
        monotonic_cst=[0] * len(cats) + [spec.numeric[n] for n in nums],
        random_state=seed,
    )
    return Pipeline([("fill", FillEmpty(nums)), ("encode", encode), ("model", model)])


def _logistic(spec: FeatureSpec) -> Pipeline:
    """Binned scorecard plus a straight-line term per numeric feature (see
    :class:`ScorecardDesign`; measured on generator data, the line terms gained about 1 point of
    AUC and 2 % of Brier against the true PD). Still one additive logistic model per feature."""
    design = ScorecardDesign(numeric=list(spec.numeric), categorical=list(spec.categorical))
    return Pipeline([("design", design), ("model", LogisticRegression(C=0.3, max_iter=3000))])


def make_pipeline(kind: str, spec: FeatureSpec, *, seed: int = 0, rows: int = 0) -> Pipeline:
    if kind == "hgb":
        return _hgb(spec, seed=seed, rows=rows)
    if kind == "logistic":
        return _logistic(spec)
    raise ValueError(f"expected a model kind in {KINDS}, found {kind!r}")


def fit_calibrated(
    kind: str, spec: FeatureSpec, X: pd.DataFrame, y: np.ndarray, *, seed: int = 0, quick: bool = False
) -> Any:
    """Fit the pipeline of ``kind`` with calibration: isotonic when there are enough defaults
    for a stable step function, Platt scaling otherwise.

    The kept model uses 3-fold cross-validated calibration (``ensemble=False``: one model at
    scoring time). ``quick`` (candidate selection) fits once and calibrates on a held-out
    quarter: a third of the cost, and ranking (AUC) does not depend on calibration anyway."""
    X = X[spec.names]
    with warnings.catch_warnings(), threadpool_limits(TRAINING_THREADS):
        warnings.simplefilter("ignore")
        if quick:
            X_fit, X_cal, y_fit, y_cal = train_test_split(X, y, test_size=0.25, stratify=y, random_state=seed)
            fitted = make_pipeline(kind, spec, seed=seed, rows=len(X_fit)).fit(X_fit, y_fit)
            method = "isotonic" if int(np.sum(y_cal)) >= 400 else "sigmoid"
            return CalibratedClassifierCV(FrozenEstimator(fitted), method=method).fit(X_cal, y_cal)
        method = "isotonic" if int(np.sum(y)) >= 400 else "sigmoid"
        calibrated = CalibratedClassifierCV(
            make_pipeline(kind, spec, seed=seed, rows=len(X) * 2 // 3),
            method=method,
            cv=StratifiedKFold(3, shuffle=True, random_state=seed),
            ensemble=False,
        )
        return calibrated.fit(X, y)


def metrics(y: np.ndarray, pd_values: np.ndarray) -> dict[str, float]:
    """AUC, Gini, KS and Brier of PDs against outcomes (AUC NaN when one class only)."""
    y = np.asarray(y, dtype=int)
    out = {"brier": float(brier_score_loss(y, pd_values)), "default_rate": float(y.mean())}
    out["n"] = float(len(y))
    if 0 < y.sum() < len(y):
        auc = float(roc_auc_score(y, pd_values))
        fpr, tpr, _ = roc_curve(y, pd_values)
        out |= {"auc": auc, "gini": 2 * auc - 1, "ks": float(np.max(tpr - fpr))}
    else:
        out |= {"auc": float("nan"), "gini": float("nan"), "ks": float("nan")}
    return out


def choose(scores: dict[str, dict[str, float]]) -> tuple[str, str]:
    """Pick the better candidate and say why: higher out-of-sample AUC wins, but within
    :data:`NEAR_TIE_AUC` the logistic scorecard is kept (then Brier decides nothing more)."""
    hgb, logit = scores["hgb"], scores["logistic"]
    gap = hgb["auc"] - logit["auc"]
    figures = (
        f"AUC hgb {hgb['auc']:.4f} vs logistic {logit['auc']:.4f}; Brier hgb {hgb['brier']:.5f} "
        f"vs logistic {logit['brier']:.5f}"
    )
    if np.isnan(gap):
        return "logistic", f"no AUC measurable (one class in validation): simplest model kept; {figures}"
    if gap > NEAR_TIE_AUC:
        return "hgb", f"gradient boosting ranks better by {gap:.4f} AUC; {figures}"
    if gap < -NEAR_TIE_AUC:
        return "logistic", f"logistic scorecard ranks better by {-gap:.4f} AUC; {figures}"
    return "logistic", f"AUC within {NEAR_TIE_AUC} (near tie): the scorecard is simpler to explain; {figures}"


def _reference(frame: pd.DataFrame, spec: FeatureSpec, pd_values: np.ndarray) -> dict[str, Any]:
    """Training distribution of each feature and of the PD (bins + shares) for PSI monitoring."""
    ref: dict[str, Any] = {"features": {}, "score": {}}
    for name in spec.numeric:
        col = frame[name].astype(float)
        present = col.dropna()
        edges = sorted(set(np.quantile(present, np.linspace(0.1, 0.9, 9)).tolist())) if len(present) else []
        ref["features"][name] = {"kind": "numeric", "edges": edges, "shares": bin_shares(col, edges)}
    for name in spec.categorical:
        shares = frame[name].astype(str).value_counts(normalize=True)
        as_dict = {str(k): float(v) for k, v in shares.items()}
        ref["features"][name] = {"kind": "categorical", "shares": as_dict}
    pd_series = pd.Series(pd_values)
    edges = sorted(set(np.quantile(pd_series, np.linspace(0.1, 0.9, 9)).tolist()))
    ref["score"] = {"kind": "numeric", "edges": edges, "shares": bin_shares(pd_series, edges)}
    return ref


def bin_shares(column: pd.Series, edges: list[float]) -> list[float]:
    """Shares of ``column`` in the bins cut at ``edges`` (right-closed) plus a last bin for missing."""
    x = pd.to_numeric(column, errors="coerce").to_numpy(dtype=float)
    n = max(len(x), 1)
    idx = np.searchsorted(np.asarray(edges, dtype=float), x[~np.isnan(x)], side="left")
    counts = np.bincount(idx, minlength=len(edges) + 1).astype(float)
    return [*(counts / n).tolist(), float(np.isnan(x).sum() / n)]


PREDICT_ROWS = 65_536
"""Buyers scored at once (see :meth:`VigieModel.predict_proba`): at a million buyers, slices of
16k, 64k and 256k took 1.2, 0.95 and 1.1-1.2 s against 3.5 s in one piece."""


PREDICT_THREADS = 2
"""Slices scored at the same time (see :func:`map_slices`): this machine's two cores. NumPy and
SciPy release the interpreter's lock in their loops: a million buyers' PDs and reasons took
2.87 s one slice after the other, 2.03-2.15 s on two threads (benchmarks/RESULTS.md)."""


def map_slices(work: Callable[[slice], T], rows: int) -> list[T]:
    """``work`` of each of :func:`row_slices` of ``rows``, in order, on :data:`PREDICT_THREADS`
    threads. Each slice's result is its own rows' (the same to the bit as in one piece); ``work``
    must only read what it shares (a fitted model, a feature frame)."""
    parts = row_slices(rows)
    if len(parts) == 1 or PREDICT_THREADS < 2:
        return [work(part) for part in parts]
    # scikit-learn's input checks enter warnings.catch_warnings() on every call, which is not
    # thread-safe in Python 3.11 (each exit puts back the process's filters as that thread found
    # them, another thread's included): the filters are saved here and put back once both
    # threads are done, so nothing one slice set is left behind
    with (
        warnings.catch_warnings(),
        ThreadPoolExecutor(
            PREDICT_THREADS, thread_name_prefix="vigie-score", initializer=_one_openmp_thread
        ) as pool,
    ):
        return list(pool.map(work, parts))


def _one_openmp_thread() -> None:
    """A scoring worker's OpenMP threads (gradient boosting's predictions), one: the workers
    share the machine's two cores between them. A caller's ``threadpool_limits`` holds for its
    own thread only, not for these."""
    threadpool_limits(1, user_api="openmp")


def row_slices(rows: int, size: int | None = None) -> list[slice]:
    """``rows`` cut into slices of ``size`` (default :data:`PREDICT_ROWS`), for work done row
    by row over a million buyers: each slice's temporaries are small and their memory is used
    again by the next slice, where one piece would touch hundreds of MB of fresh memory (which
    this machine charges about a second a GB the first time)."""
    step = PREDICT_ROWS if size is None else size
    if step < 1:
        raise ValueError(f"a slice holds at least one row, got {step}")
    return [slice(start, min(start + step, rows)) for start in range(0, rows, step)] or [slice(0, 0)]


@dataclass
class VigieModel:
    """What the registry stores: the calibrated pipeline plus what scoring and monitoring need
    next to it (feature spec, reason-code tables, training distributions, missing rates)."""

    kind: str
    spec: FeatureSpec
    calibrated: Any
    tables: list[reasons.DependenceTable] = field(default_factory=list)
    reference: dict[str, Any] = field(default_factory=dict)
    missing_rate: dict[str, float] = field(default_factory=dict)

    def predict_proba(self, X: pd.DataFrame) -> np.ndarray:
        """Two columns (no default, default), as scikit-learn and ``mlflow.pyfunc`` expect.

        In slices of :data:`PREDICT_ROWS` buyers: every step of the pipeline (design matrix,
        model, calibration) works row by row, so the result is the same to the bit, but a
        million buyers' design matrix at once is 800 MB of fresh memory, which this machine
        charges about a second a GB the first time it is touched (3.5 s to score a million
        buyers, 1.0 s in slices; benchmarks/RESULTS.md)."""
        inputs = X[self.spec.names]
        return np.concatenate(
            map_slices(lambda part: np.asarray(self.calibrated.predict_proba(inputs.iloc[part])), len(inputs))
        )

    def predict_pd(self, X: pd.DataFrame) -> np.ndarray:
        return self.predict_proba(X)[:, 1]

    def contributions(self, X: pd.DataFrame) -> pd.DataFrame:
        return reasons.contributions(self.tables, X)


def finish(kind: str, spec: FeatureSpec, X: pd.DataFrame, y: np.ndarray, *, seed: int = 0) -> VigieModel:
    """Fit the chosen kind on all rows and attach reason tables, PSI reference, missing rates."""
    calibrated = fit_calibrated(kind, spec, X, y, seed=seed)
    model = VigieModel(kind=kind, spec=spec, calibrated=calibrated)
    sample = X[spec.names].sample(n=min(REFERENCE_SAMPLE, len(X)), random_state=seed)
    with threadpool_limits(TRAINING_THREADS):
        model.tables = reasons.build_tables(
            model.predict_pd, sample, list(spec.numeric), list(spec.categorical)
        )
        model.reference = _reference(X, spec, model.predict_pd(X))
    model.missing_rate = {n: float(X[n].isna().mean()) for n in spec.numeric}
    return model


@dataclass
class Selection:
    """Both candidates measured on the same validation rows, and the one kept."""

    kind: str
    why: str
    scores: dict[str, dict[str, float]]
    validation_pd: np.ndarray


def select(
    spec: FeatureSpec,
    X_train: pd.DataFrame,
    y_train: np.ndarray,
    X_valid: pd.DataFrame,
    y_valid: np.ndarray,
    *,
    seed: int = 0,
) -> Selection:
    """Fit every candidate (calibrated) on the training rows, measure it on the validation
    rows, keep the better (see :func:`choose`)."""
    scores: dict[str, dict[str, float]] = {}
    predictions: dict[str, np.ndarray] = {}
    for kind in KINDS:
        fitted = fit_calibrated(kind, spec, X_train, y_train, seed=seed, quick=True)
        with threadpool_limits(TRAINING_THREADS):
            predictions[kind] = np.asarray(fitted.predict_proba(X_valid[spec.names]))[:, 1]
        scores[kind] = metrics(y_valid, predictions[kind])
    kind, why = choose(scores)
    return Selection(kind=kind, why=why, scores=scores, validation_pd=predictions[kind])
