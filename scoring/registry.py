"""The MLflow model registry: where versions live, which one is ``champion`` (drives decisions)
and which is ``challenger`` (scored in shadow). Scoring never falls back to another model: a
missing alias is a :class:`ScoringError`."""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import mlflow
import pandas as pd
from mlflow.exceptions import MlflowException
from mlflow.tracking import MlflowClient

from config.settings import Settings
from scoring.errors import ScoringError
from scoring.model import VigieModel

ALIASES = ("champion", "challenger")


def client(settings: Settings) -> MlflowClient:
    """A client on the configured tracking and registry stores (also set as MLflow's defaults,
    which ``log_model`` and ``load_model`` read)."""
    settings.artifacts_dir.mkdir(parents=True, exist_ok=True)
    mlflow.set_tracking_uri(settings.tracking_uri)
    mlflow.set_registry_uri(settings.registry_uri)
    return MlflowClient(tracking_uri=settings.tracking_uri, registry_uri=settings.registry_uri)


def alias_version(settings: Settings, alias: str) -> str | None:
    """Version the alias points to, or None when the alias (or the model) does not exist."""
    try:
        return str(client(settings).get_model_version_by_alias(settings.mlflow.model_name, alias).version)
    except MlflowException:
        return None


def promote(settings: Settings, version: str, *, alias: str = "champion") -> None:
    """Point ``alias`` at ``version``. A challenger promoted to champion stops being challenger."""
    if alias not in ALIASES:
        raise ScoringError(f"expected alias champion or challenger, found {alias!r}")
    name = settings.mlflow.model_name
    mc = client(settings)
    try:
        mc.get_model_version(name, str(version))
    except MlflowException:
        raise ScoringError(f"model {name} has no version {version!r}; see `vigie model list`") from None
    mc.set_registered_model_alias(name, alias, str(version))
    if alias == "champion" and alias_version(settings, "challenger") == str(version):
        mc.delete_registered_model_alias(name, "challenger")


def list_versions(settings: Settings) -> pd.DataFrame:
    """Every registered version with its aliases and training figures (newest first)."""
    name = settings.mlflow.model_name
    columns = ["version", "aliases", "kind", "as_of", "auc", "created"]
    mc = client(settings)
    try:
        versions = mc.search_model_versions(f"name = '{name}'")
        aliases = mc.get_registered_model(name).aliases or {}
    except MlflowException:
        return pd.DataFrame(columns=columns)
    by_version: dict[str, list[str]] = {}
    for alias, version in aliases.items():
        by_version.setdefault(str(version), []).append(alias)
    rows = [
        {
            "version": str(v.version),
            "aliases": ",".join(sorted(by_version.get(str(v.version), []))),
            "kind": v.tags.get("kind", ""),
            "as_of": v.tags.get("as_of", ""),
            "auc": v.tags.get("auc", ""),
            "created": pd.Timestamp(v.creation_timestamp, unit="ms"),
        }
        for v in versions
    ]
    frame = pd.DataFrame(rows, columns=columns)
    return frame.sort_values("version", key=lambda s: s.astype(int), ascending=False, ignore_index=True)


@dataclass
class LoadedModel:
    """A model resolved from an alias: the version is stored with every score it produces."""

    name: str
    alias: str
    version: str
    model: VigieModel
    input_names: list[str]


def load(settings: Settings, alias: str) -> LoadedModel:
    """Load ``models:/<name>@<alias>`` with its signature, or raise a clear :class:`ScoringError`."""
    name = settings.mlflow.model_name
    version = alias_version(settings, alias)
    if version is None:
        raise ScoringError(
            f"no {alias} model: registered model {name!r} has no alias {alias!r} in {settings.registry_uri}; "
            "train one with `vigie model train --as-of D` and `vigie model promote VERSION`"
        )
    uri = f"models:/{name}/{version}"
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            info = mlflow.models.get_model_info(uri)
            model = mlflow.sklearn.load_model(uri)
    except (MlflowException, OSError) as exc:
        raise ScoringError(f"cannot load {name} version {version} ({alias}): {exc}") from None
    if info.signature is None or info.signature.inputs is None:
        raise ScoringError(f"{name} version {version} ({alias}) has no input signature; retrain it")
    if not isinstance(model, VigieModel):
        raise ScoringError(
            f"{name} version {version} ({alias}) is a {type(model).__name__}, expected a Vigie model "
            "(calibrated pipeline with reason tables); retrain it with `vigie model train`"
        )
    return LoadedModel(name, alias, version, model, list(info.signature.inputs.input_names()))
