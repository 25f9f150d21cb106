"""Vigie's training pipeline on the Polish companies bankruptcy data (UCI, CC BY 4.0).

64 financial ratios per company, ``?`` = missing, class 1 = bankrupt within the horizon.
Stratified 5-fold cross-validation; in every fold Vigie runs its own selection (both candidates
calibrated, measured on an inner validation split, the better kept and refitted on the whole
training fold) and a plain LightGBM classifier is fitted on the same folds as the baseline.
The last line printed is ``auc_vigie=<x> auc_baseline=<y>`` (mean over both files and folds).

Usage: python benchmarks/polish.py [DATA_DIR]   (default: ../shared/data/credit beside the repo)
"""

from __future__ import annotations

import sys
import time
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
from scipy.io import arff
from sklearn.metrics import roc_auc_score
from sklearn.model_selection import StratifiedKFold, train_test_split

from scoring.features import FeatureSpec
from scoring.model import finish, select

DEFAULT_DIR = Path(__file__).resolve().parents[2] / "shared" / "data" / "credit"
FILES = ("polish_bankruptcy_1year.arff", "polish_bankruptcy_5year.arff")


def load(path: Path) -> tuple[pd.DataFrame, np.ndarray]:
    data, meta = arff.loadarff(str(path))
    frame = pd.DataFrame(data)
    target = meta.names()[-1]
    y = frame.pop(target).astype(str).str.strip("b'").astype(int).to_numpy()
    frame.columns = [f"attr{i + 1:02d}" for i in range(frame.shape[1])]
    return frame.astype("float64"), y


def run_file(path: Path) -> tuple[list[float], list[float], str]:
    import lightgbm as lgb

    X, y = load(path)
    spec = FeatureSpec(numeric=dict.fromkeys(X.columns, 0), categorical=())
    folds = StratifiedKFold(5, shuffle=True, random_state=42)
    vigie, baseline, kinds = [], [], []
    for train_idx, test_idx in folds.split(X, y):
        X_tr, y_tr = X.iloc[train_idx], y[train_idx]
        X_te, y_te = X.iloc[test_idx], y[test_idx]
        X_a, X_b, y_a, y_b = train_test_split(X_tr, y_tr, test_size=0.25, stratify=y_tr, random_state=0)
        chosen = select(spec, X_a, y_a, X_b, y_b)
        model = finish(chosen.kind, spec, X_tr, y_tr)
        vigie.append(float(roc_auc_score(y_te, model.predict_pd(X_te))))
        kinds.append(chosen.kind)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            gbm = lgb.LGBMClassifier(random_state=0, verbose=-1, n_jobs=1).fit(X_tr, y_tr)
        baseline.append(float(roc_auc_score(y_te, np.asarray(gbm.predict_proba(X_te))[:, 1])))
    return vigie, baseline, ",".join(kinds)


def main() -> None:
    data_dir = Path(sys.argv[1]) if len(sys.argv) > 1 else DEFAULT_DIR
    all_vigie: list[float] = []
    all_base: list[float] = []
    for name in FILES:
        start = time.perf_counter()
        vigie, base, kinds = run_file(data_dir / name)
        all_vigie += vigie
        all_base += base
        print(
            f"{name}: auc_vigie={np.mean(vigie):.4f} (folds {', '.join(f'{v:.3f}' for v in vigie)}; "
            f"kept {kinds}) auc_baseline={np.mean(base):.4f} ({time.perf_counter() - start:.1f} s)"
        )
    print(f"auc_vigie={np.mean(all_vigie):.4f} auc_baseline={np.mean(all_base):.4f}")


if __name__ == "__main__":
    main()
