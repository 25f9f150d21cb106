"""Train, measure, log to MLflow and register a new model version.

The training set is point-in-time (see :mod:`scoring.dataset`). Both candidates are measured
on an out-of-time sample (the latest snapshots); the better is refitted on every row, logged
with its parameters, metrics, calibration table per grade, feature list and signature, and
registered. The very first version becomes champion; later ones wait for ``promote``.
"""

from __future__ import annotations

import time
import warnings
from dataclasses import dataclass, field
from datetime import date
from typing import Any

import mlflow
import numpy as np
import pandas as pd
from mlflow.models import infer_signature
from sklearn.model_selection import train_test_split
from sqlalchemy.orm import Session

from config.settings import Settings
from scoring import registry
from scoring.dataset import read_inputs, sample_buyers, snapshot_dates, training_set
from scoring.errors import ScoringError
from scoring.features import BUYER_FEATURES
from scoring.master_scale import MasterScale, load_master_scale
from scoring.model import finish, select

MIN_DEFAULTS = 20
MIN_VALID_DEFAULTS = 10


@dataclass
class TrainingReport:
    version: str
    kind: str
    why: str
    metrics: dict[str, float]
    candidates: dict[str, dict[str, float]]
    calibration: list[dict[str, Any]]
    features: list[str]
    signature: str
    champion: bool
    """True when this version became champion because there was none."""
    run_id: str
    rows: int
    defaults: int
    snapshots: list[date]
    validation: str
    seconds: float = 0.0
    notes: list[str] = field(default_factory=list)


def trusted_types(model: object) -> list[str]:
    """Types skops must trust to reload the model: exactly those of the object we just built in
    this process (our own classes and scikit-learn internals), never a list found in a file."""
    import skops.io

    return list(skops.io.get_untrusted_types(data=skops.io.dumps(model)))


def pip_requirements() -> list[str]:
    """Pinned from the running environment. Stated explicitly because MLflow's inference
    reloads the model in a subprocess: 13 of 45 seconds of a demo-size training."""
    from importlib.metadata import PackageNotFoundError, version

    pins = []
    for package in ("scikit-learn", "pandas", "numpy", "scipy", "skops", "vigie"):
        try:
            pins.append(f"{package}=={version(package)}")
        except PackageNotFoundError:
            continue
    return pins


def calibration_table(pd_values: np.ndarray, y: np.ndarray, scale: MasterScale) -> pd.DataFrame:
    """Per grade: buyers, defaults, observed default rate and mean predicted PD."""
    grades = scale.grade_of(pd.Series(pd_values))
    frame = pd.DataFrame({"grade": grades, "pd": pd_values, "default": np.asarray(y, dtype=int)})
    table = frame.groupby("grade").agg(n=("pd", "size"), defaults=("default", "sum"), mean_pd=("pd", "mean"))
    table["observed_rate"] = table["defaults"] / table["n"]
    table["rating"] = scale.letter_of(pd.Series(table.index, index=table.index))
    return table.reset_index()


def split(data: pd.DataFrame) -> tuple[np.ndarray, np.ndarray, str]:
    """Training and validation masks. Validation = the latest quarter of snapshots for a held-out
    30 % of buyers; training = the other buyers at earlier snapshots. Why both: quarterly
    snapshots overlap (one default labels four snapshots of the same buyer), so a split on time
    alone lets a model recognise the buyer and reports an AUC it will not have out of time.
    Falls back to a stratified random quarter (said in the report) when defaults are too few."""
    y = data["target"].to_numpy()
    snapshots = np.sort(data["snapshot"].unique())
    cut = snapshots[-max(1, len(snapshots) // 4)]
    buyers = data.index.unique()
    held = np.random.default_rng(0).choice(len(buyers), size=int(0.3 * len(buyers)), replace=False)
    in_held = data.index.isin(buyers[held])
    late = (data["snapshot"] >= cut).to_numpy()
    valid, train = late & in_held, ~late & ~in_held
    if y[valid].sum() >= MIN_VALID_DEFAULTS and y[train].sum() >= MIN_VALID_DEFAULTS:
        return (
            train,
            valid,
            f"out of time and out of sample: snapshots from {pd.Timestamp(cut).date()}, held-out buyers",
        )
    idx = np.arange(len(data))
    _, valid_idx = train_test_split(idx, test_size=0.25, stratify=y, random_state=0)
    mask = np.zeros(len(data), dtype=bool)
    mask[valid_idx] = True
    return ~mask, mask, "stratified random 25 % (too few defaults for an out-of-time split)"


def train_and_register(session: Session, *, as_of: date, settings: Settings) -> TrainingReport:
    """Build the training set known at ``as_of``, select, fit, log and register a version."""
    started = time.perf_counter()
    spec = BUYER_FEATURES
    snapshots = snapshot_dates(as_of)
    inputs = read_inputs(session, as_of=as_of, payment_dates=snapshots)
    buyers_known = len(inputs.buyers)
    inputs = sample_buyers(inputs, max_buyers=settings.mlflow.training_max_buyers)
    data = training_set(inputs, snapshots=snapshots, as_of=as_of)
    defaults = int(data["target"].sum()) if len(data) else 0
    if defaults < MIN_DEFAULTS or defaults == len(data):
        raise ScoringError(
            f"cannot train as of {as_of}: expected at least {MIN_DEFAULTS} defaults and some non-defaults "
            f"over snapshots {snapshots[0]}..{snapshots[-1]}, found {defaults} defaults in {len(data)} rows; "
            "load more history (legal events, accounts, payment aggregates)"
        )
    y = data["target"].to_numpy()
    train, valid, how = split(data)
    chosen = select(spec, data[train], y[train], data[valid], y[valid])
    model = finish(chosen.kind, spec, data, y)
    scale = load_master_scale(settings.paths.master_scale_file)
    table = calibration_table(chosen.validation_pd, y[valid], scale)
    sample = data[spec.names].head(200)
    signature = infer_signature(sample, model.predict_proba(sample))
    mc = registry.client(settings)
    experiment = mlflow.get_experiment_by_name(settings.mlflow.experiment)
    experiment_id = (
        experiment.experiment_id
        if experiment is not None
        else mc.create_experiment(
            settings.mlflow.experiment, artifact_location=settings.artifacts_dir.resolve().as_uri()
        )
    )
    chosen_metrics = chosen.scores[chosen.kind]
    with (
        warnings.catch_warnings(),
        mlflow.start_run(experiment_id=experiment_id, run_name=f"train-{as_of}") as run,
    ):
        warnings.simplefilter("ignore")
        mlflow.log_params(
            {
                "as_of": str(as_of),
                "snapshots": ",".join(str(s) for s in snapshots),
                "rows": len(data),
                "buyers_known": buyers_known,
                "buyers_sampled": len(inputs.buyers),
                "defaults": defaults,
                "kind": chosen.kind,
                "validation": how,
                "calibration": type(model.calibrated).__name__ + ":" + str(model.calibrated.method),
            }
        )
        for kind, figures in chosen.scores.items():
            mlflow.log_metrics({f"{kind}_{k}": v for k, v in figures.items() if np.isfinite(v)})
        mlflow.log_metrics({k: v for k, v in chosen_metrics.items() if np.isfinite(v)})
        mlflow.log_text(chosen.why, "selection.txt")
        mlflow.log_dict({"features": spec.names, "signs": spec.numeric}, "features.json")
        mlflow.log_dict({"calibration": table.to_dict(orient="records")}, "calibration.json")
        mlflow.log_dict(model.reference, "reference.json")
        info = mlflow.sklearn.log_model(
            model,
            name="model",
            signature=signature,
            registered_model_name=settings.mlflow.model_name,
            pyfunc_predict_fn="predict_proba",
            skops_trusted_types=trusted_types(model),
            pip_requirements=pip_requirements(),
        )
    version = str(info.registered_model_version)
    name = settings.mlflow.model_name
    for key, value in {
        "kind": chosen.kind,
        "as_of": str(as_of),
        "auc": f"{chosen_metrics['auc']:.4f}",
    }.items():
        mc.set_model_version_tag(name, version, key, value)
    became_champion = registry.alias_version(settings, "champion") is None
    if became_champion:
        registry.promote(settings, version, alias="champion")
    return TrainingReport(
        version=version,
        kind=chosen.kind,
        why=chosen.why,
        metrics=chosen_metrics,
        candidates=chosen.scores,
        calibration=[{str(k): v for k, v in row.items()} for row in table.to_dict(orient="records")],
        features=spec.names,
        signature=str(signature.inputs),
        champion=became_champion,
        run_id=run.info.run_id,
        rows=len(data),
        defaults=defaults,
        snapshots=snapshots,
        validation=how,
        seconds=time.perf_counter() - started,
        notes=(
            [f"trained on a uniform sample of {len(inputs.buyers):,} of {buyers_known:,} buyers"]
            if len(inputs.buyers) < buyers_known
            else []
        ),
    )


__all__ = ["TrainingReport", "calibration_table", "train_and_register"]
