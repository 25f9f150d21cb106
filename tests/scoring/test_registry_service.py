"""Training, registry, champion / challenger, nightly scoring and monitoring against a real
local MLflow store (SQLite tracking URI in a temporary folder). MLflow is slow: the model is
trained twice per module and shared."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from pathlib import Path

import mlflow
import numpy as np
import pandas as pd
import pytest
from mlflow.models import infer_signature
from sqlalchemy import text

from config.settings import Settings, load_settings
from models.base import Base
from models.db import make_engine, read_frame, session_factory
from scoring import model as scoring_model
from scoring import registry
from scoring.errors import ScoringError
from scoring.monitoring import monitor
from scoring.service import ScoringFrames, score_buyers
from scoring.training import TrainingReport, pip_requirements, train_and_register, trusted_types
from tests.scoring.fakes import load, portfolio

pytestmark = pytest.mark.slow

AS_OF = date(2026, 6, 30)
N_BUYERS = 700


@dataclass
class Store:
    tracking_uri: str
    first: TrainingReport
    second: TrainingReport
    frames: dict[str, pd.DataFrame]


def _settings(
    workdir: Path, tracking_uri: str, db_url: str | None = None, model_name: str = "vigie-buyer-pd"
) -> Settings:
    database = {"url": db_url} if db_url else {}
    return load_settings(
        workdir=workdir, database=database, mlflow={"tracking_uri": tracking_uri, "model_name": model_name}
    )


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> Store:
    root = tmp_path_factory.mktemp("mlflow")
    tracking_uri = f"sqlite:///{(root / 'mlflow.db').as_posix()}"
    settings = _settings(root / "work", tracking_uri)
    engine = make_engine(settings.database_url)
    Base.metadata.create_all(engine)
    frames = portfolio(N_BUYERS, as_of=AS_OF, seed=11)
    factory = session_factory(engine)
    with factory() as session:
        load(session, frames)
        first = train_and_register(session, as_of=AS_OF, settings=settings)
        second = train_and_register(session, as_of=AS_OF, settings=settings)
        session.commit()
    engine.dispose()
    return Store(tracking_uri, first, second, frames)


def test_first_version_becomes_champion_and_later_ones_wait(store: Store):
    first, second = store.first, store.second
    assert first.champion and not second.champion
    assert int(second.version) == int(first.version) + 1
    assert first.kind in {"hgb", "logistic"} and first.why
    assert 0.7 < first.metrics["auc"] <= 1
    assert first.metrics["gini"] == pytest.approx(2 * first.metrics["auc"] - 1)
    assert 0 < first.metrics["ks"] <= 1 and 0 < first.metrics["brier"] < 0.25
    assert set(first.candidates) == {"hgb", "logistic"}
    assert sum(row["n"] for row in first.calibration) > 0
    assert "equity_ratio" in first.features and "equity_ratio" in first.signature


def test_nightly_scoring_champion_and_shadow_challenger(store: Store, session, tmp_path: Path, db_url: str):
    settings = _settings(tmp_path / "work", store.tracking_uri, db_url)
    registry.promote(settings, store.first.version, alias="champion")
    registry.promote(settings, store.second.version, alias="challenger")
    load(session, store.frames)
    summary = score_buyers(session, as_of=AS_OF, settings=settings, run_id=7)
    kept: list[ScoringFrames] = []
    again = score_buyers(session, as_of=AS_OF, settings=settings, run_id=7, keep=kept)  # idempotent
    assert again.buyers == summary.buyers == N_BUYERS
    scores = read_frame(session, "SELECT * FROM score WHERE as_of = :d", {"d": AS_OF})
    assert len(scores) == 2 * N_BUYERS
    champion = scores[scores["role"] == "champion"]
    assert set(champion["model_version"]) == {store.first.version}
    assert set(scores.loc[scores["role"] == "challenger", "model_version"]) == {store.second.version}
    assert champion["pd_12m"].between(0, 1).all() and champion["grade"].between(1, 10).all()
    in_default = champion["grade"] == 10
    assert (champion.loc[in_default, "pd_12m"] == 1.0).all()
    assert (champion.loc[in_default, "reason_codes"] == "D01").all()
    live = champion[~in_default].sort_values("pd_12m")
    risky = live.iloc[-int(len(live) * 0.2) :]
    assert (risky["reason_codes"].str.len() > 0).all()
    assert risky["reason_codes"].str.count(",").max() == 2  # three codes
    assert Path(summary.features_file).exists()

    result = monitor(session, as_of=AS_OF, settings=settings, run_id=7)
    metrics = read_frame(session, "SELECT * FROM monitoring_metric WHERE run_id = 7")
    assert len(metrics) == result.metrics
    psi = metrics[metrics["metric"] == "psi"]
    assert "score" in set(psi["subject"]) and "equity_ratio" in set(psi["subject"])
    assert psi["value"].ge(0).all()
    override = metrics[metrics["metric"] == "override_rate"]
    assert override["value"].isna().all() and result.override_rate is None  # no decisions yet
    assert result.as_dict()["as_of"] == AS_OF.isoformat()

    # the frame handed to monitoring holds the features file's values (the file gives its text
    # columns pandas' string type back) and gives the same figures
    handed = kept[0].features
    assert handed is not None
    pd.testing.assert_frame_equal(handed, pd.read_parquet(summary.features_file), check_dtype=False)
    monitor(session, as_of=AS_OF, settings=settings, run_id=8, features=handed)
    figures = "SELECT metric, subject, value, status FROM monitoring_metric WHERE run_id = :r ORDER BY 1, 2"
    pd.testing.assert_frame_equal(
        read_frame(session, figures, {"r": 8}), read_frame(session, figures, {"r": 7})
    )


def test_buyers_scored_in_slices_get_the_same_scores_to_the_bit(
    store: Store, session, tmp_path: Path, db_url: str, monkeypatch: pytest.MonkeyPatch
):
    """A night scores a million buyers in slices (scoring.model.PREDICT_ROWS): PDs, grades and
    reasons are each row's own, the same as in one piece."""
    settings = _settings(tmp_path / "work", store.tracking_uri, db_url)
    registry.promote(settings, store.first.version, alias="champion")
    load(session, store.frames)
    query = (
        "SELECT buyer_id, pd_12m, grade, rating, reason_codes FROM score WHERE as_of = :d ORDER BY buyer_id"
    )
    summary = score_buyers(session, as_of=AS_OF, settings=settings, run_id=7)
    whole_scores = read_frame(session, query, {"d": AS_OF})
    features = pd.read_parquet(summary.features_file)
    model = registry.load(settings, "champion").model
    whole = model.predict_proba(features)
    monkeypatch.setattr(scoring_model, "PREDICT_ROWS", 97)  # 700 buyers: 8 slices, the last short
    sliced = model.predict_proba(features)
    assert sliced.shape == whole.shape == (N_BUYERS, 2)
    assert np.array_equal(sliced, whole)
    score_buyers(session, as_of=AS_OF, settings=settings, run_id=7)
    sliced_scores = read_frame(session, query, {"d": AS_OF})
    pd.testing.assert_frame_equal(sliced_scores, whole_scores)
    assert whole_scores["reason_codes"].str.len().gt(0).sum() > N_BUYERS // 2


def test_no_champion_stops_before_writing(store: Store, session, tmp_path: Path, db_url: str):
    empty = f"sqlite:///{(tmp_path / 'empty.db').as_posix()}"
    settings = _settings(tmp_path / "work", empty, db_url)
    load(session, store.frames)
    with pytest.raises(ScoringError, match=r"no champion model.*vigie model promote"):
        score_buyers(session, as_of=AS_OF, settings=settings, run_id=None)
    assert read_frame(session, "SELECT COUNT(*) AS n FROM score")["n"].iloc[0] == 0


def test_signature_mismatch_and_missing_features_stop_before_writing(store: Store, tmp_path: Path):
    settings = _settings(tmp_path / "work", store.tracking_uri, model_name="vigie-mismatch")
    engine = make_engine(settings.database_url)
    Base.metadata.create_all(engine)
    good = registry.load(_settings(tmp_path / "w2", store.tracking_uri), "champion").model
    sample = pd.DataFrame({"equity_ratio": [0.1], "bogus_feature": [1.0]})
    mlflow_client = registry.client(settings)
    experiment = mlflow_client.create_experiment(
        "mismatch", artifact_location=(tmp_path / "artifacts").resolve().as_uri()
    )
    with mlflow.start_run(experiment_id=experiment):
        mlflow.sklearn.log_model(
            good,
            name="model",
            signature=infer_signature(sample, [[0.9, 0.1]]),
            registered_model_name="vigie-mismatch",
            skops_trusted_types=trusted_types(good),
            pip_requirements=pip_requirements(),
        )
    registry.promote(settings, "1")
    with session_factory(engine)() as session:
        load(session, store.frames)
        with pytest.raises(ScoringError, match=r"expects features \['bogus_feature'\]"):
            score_buyers(session, as_of=AS_OF, settings=settings, run_id=None)

        real = _settings(tmp_path / "work", store.tracking_uri)
        session.execute(text("DELETE FROM payment_aggregate"))
        session.execute(text("DELETE FROM buyer_financials"))
        with pytest.raises(ScoringError, match="features mostly missing"):
            score_buyers(session, as_of=AS_OF, settings=real, run_id=None)
        assert read_frame(session, "SELECT COUNT(*) AS n FROM score")["n"].iloc[0] == 0
    engine.dispose()


def test_promote_moves_champion_and_clears_the_challenger(store: Store, tmp_path: Path):
    settings = _settings(tmp_path / "work", store.tracking_uri)
    registry.promote(settings, store.second.version, alias="challenger")
    registry.promote(settings, store.second.version)
    assert registry.alias_version(settings, "champion") == store.second.version
    assert registry.alias_version(settings, "challenger") is None
    listing = registry.list_versions(settings)
    assert listing.loc[listing["version"] == store.second.version, "aliases"].iloc[0] == "champion"
    with pytest.raises(ScoringError, match="has no version '99'"):
        registry.promote(settings, "99")
    with pytest.raises(ScoringError, match="champion or challenger"):
        registry.promote(settings, store.first.version, alias="boss")
    registry.promote(settings, store.first.version)
