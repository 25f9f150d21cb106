"""Nightly model monitoring, stored per run in ``monitoring_metric``.

- PSI of every feature and of the PD against the champion's training sample (bins and shares
  kept with the model), with the warning / alert thresholds of the settings;
- backtest: the latest champion scores at least 12 months old against the defaults realised
  since (AUC, and a Jeffreys test per grade: the ECB's test of PD calibration);
- arbiters' override rate over the referred decisions decided in the last 30 days.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import date, timedelta
from typing import Any

import numpy as np
import pandas as pd
from scipy.stats import beta
from sklearn.metrics import roc_auc_score
from sqlalchemy import text
from sqlalchemy.orm import Session

from config.settings import Settings
from models.codes import COLLECTIVE_OPENINGS
from models.db import bound_list, bulk_insert, read_frame
from models.score import latest_score_date
from scoring import registry
from scoring.dataset import HORIZON_MONTHS, add_months, default_dates, label
from scoring.master_scale import DEFAULT_GRADE
from scoring.model import bin_shares

EPS = 1e-4
JEFFREYS_WARNING = 0.05
JEFFREYS_ALERT = 0.01
OVERRIDE_WINDOW_DAYS = 30
NOT_AVAILABLE = "n/a"


def psi(expected: list[float], actual: list[float]) -> float:
    """Population stability index: sum (a - e) ln(a / e), empty bins floored at 1e-4."""
    e = np.maximum(np.asarray(expected, dtype=float), EPS)
    a = np.maximum(np.asarray(actual, dtype=float), EPS)
    return float(np.sum((a - e) * np.log(a / e)))


def _categorical_shares(reference: dict[str, float], column: pd.Series) -> tuple[list[float], list[float]]:
    actual = column.astype(str).value_counts(normalize=True)
    keys = sorted(set(reference) | set(actual.index))
    return [reference.get(k, 0.0) for k in keys], [float(actual.get(k, 0.0)) for k in keys]


def psi_table(reference: dict[str, Any], features: pd.DataFrame, pd_values: pd.Series) -> pd.DataFrame:
    """PSI of each feature (subject = feature name) and of the PD (subject ``score``)."""
    rows = []
    for name, ref in reference.get("features", {}).items():
        if name not in features.columns:
            continue
        if ref["kind"] == "numeric":
            expected, actual = ref["shares"], bin_shares(features[name], ref["edges"])
        else:
            expected, actual = _categorical_shares(ref["shares"], features[name])
        rows.append({"subject": name, "value": psi(expected, actual)})
    score_ref = reference.get("score")
    if score_ref:
        rows.append(
            {"subject": "score", "value": psi(score_ref["shares"], bin_shares(pd_values, score_ref["edges"]))}
        )
    return pd.DataFrame(rows, columns=["subject", "value"])


def jeffreys_pvalue(n: int, defaults: int, mean_pd: float) -> float:
    """P-value of H0 "the PD is not underestimated": Beta(d + 1/2, n - d + 1/2) cdf at the PD.
    Small means more defaults than the grade's PD allows."""
    return float(beta.cdf(mean_pd, defaults + 0.5, n - defaults + 0.5))


def backtest(scores: pd.DataFrame, target: pd.Series) -> tuple[float | None, pd.DataFrame]:
    """AUC of PDs against realised defaults and the Jeffreys test per grade."""
    y = target.reindex(scores["buyer_id"]).fillna(0).to_numpy(dtype=int)
    auc = float(roc_auc_score(y, scores["pd_12m"])) if 0 < y.sum() < len(y) else None
    frame = pd.DataFrame({"grade": scores["grade"].to_numpy(), "pd": scores["pd_12m"].to_numpy(), "y": y})
    per_grade = frame.groupby("grade").agg(n=("y", "size"), defaults=("y", "sum"), mean_pd=("pd", "mean"))
    per_grade["pvalue"] = [
        jeffreys_pvalue(int(n), int(d), float(p))
        for n, d, p in zip(
            per_grade["n"].tolist(),
            per_grade["defaults"].tolist(),
            per_grade["mean_pd"].tolist(),
            strict=True,
        )
    ]
    return auc, per_grade.reset_index()


def _status(value: float | None, warning: float, alert: float, *, higher_is_worse: bool = True) -> str:
    if value is None or not np.isfinite(value):
        return NOT_AVAILABLE
    if higher_is_worse:
        return "alert" if value >= alert else "warning" if value >= warning else "ok"
    return "alert" if value < alert else "warning" if value < warning else "ok"


@dataclass
class MonitoringSummary:
    as_of: date
    model_version: str
    psi_score: float | None
    psi_warnings: list[str]
    psi_alerts: list[str]
    backtest_date: date | None
    backtest_auc: float | None
    grade_alerts: list[int]
    override_rate: float | None
    decided_referrals: int
    metrics: int
    notes: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        out = asdict(self)
        for key in ("as_of", "backtest_date"):
            out[key] = out[key].isoformat() if out[key] else None
        return out


def override_rate(session: Session, *, as_of: date) -> tuple[float | None, int]:
    """Amended or refused over all referred decisions decided by an arbiter in the window."""
    frame = read_frame(
        session,
        "SELECT status, COUNT(*) AS n FROM decision WHERE business_date > :start AND business_date <= :d "
        "AND status IN ('approved', 'amended', 'refused') GROUP BY status",
        {"start": as_of - timedelta(days=OVERRIDE_WINDOW_DAYS), "d": as_of},
    )
    total = int(frame["n"].sum()) if len(frame) else 0
    if total == 0:
        return None, 0
    overridden = int(frame.loc[frame["status"].isin(["amended", "refused"]), "n"].sum())
    return overridden / total, total


def monitor(
    session: Session, *, as_of: date, settings: Settings, run_id: int, features: pd.DataFrame | None = None
) -> MonitoringSummary:
    """Compute and store tonight's monitoring figures (the caller commits). ``features``: the
    night's feature frame as the score step of this process wrote it to the features file
    (with ``pd_12m``), used instead of reading that file back (a million buyers: about a
    second)."""
    champion = registry.load(settings, "champion")
    thresholds = settings.monitoring
    rows: list[dict[str, Any]] = []
    notes: list[str] = []
    path = settings.features_file(as_of)
    psi_frame = pd.DataFrame(columns=["subject", "value"])
    if features is None and path.exists():
        features = pd.read_parquet(path)
    if features is not None:
        psi_frame = psi_table(champion.model.reference, features, features["pd_12m"])
    else:
        notes.append(f"no feature frame for {as_of} (score the night first): PSI not computed")
    for subject, value in zip(psi_frame["subject"].tolist(), psi_frame["value"].tolist(), strict=True):
        status = _status(float(value), thresholds.psi_warning, thresholds.psi_alert)
        rows.append({"metric": "psi", "subject": subject, "value": float(value), "status": status})

    # backtest: latest champion scoring date at least 12 months back
    horizon_start = add_months(as_of, -HORIZON_MONTHS)
    backtest_date = latest_score_date(session, horizon_start)
    auc: float | None = None
    grade_alerts: list[int] = []
    if backtest_date is not None:
        scores = read_frame(
            session,
            "SELECT buyer_id, pd_12m, grade FROM score WHERE role = 'champion' AND as_of = :d "
            "AND grade < :default_grade",
            {"d": backtest_date, "default_grade": DEFAULT_GRADE},
        )
        marks, openings = bound_list("e", sorted(COLLECTIVE_OPENINGS))
        events = read_frame(
            session,
            "SELECT buyer_id, event_type, event_date, publication_date, cancelled FROM legal_event "
            f"WHERE publication_date <= :d AND event_type IN ({marks})",
            {"d": as_of, **openings},
        )
        target = label(
            pd.Index(scores["buyer_id"]), default_dates(events, known_at=as_of), start=backtest_date
        )
        auc, per_grade = backtest(scores, target)
        rows.append(
            {
                "metric": "backtest_auc",
                "subject": f"score_{backtest_date}",
                "value": auc,
                "status": "ok" if auc is not None else NOT_AVAILABLE,
            }
        )
        for grade, pvalue in zip(per_grade["grade"].tolist(), per_grade["pvalue"].tolist(), strict=True):
            status = _status(float(pvalue), JEFFREYS_WARNING, JEFFREYS_ALERT, higher_is_worse=False)
            if status == "alert":
                grade_alerts.append(int(grade))
            rows.append(
                {
                    "metric": "jeffreys_pvalue",
                    "subject": f"grade_{grade}",
                    "value": float(pvalue),
                    "status": status,
                }
            )
    else:
        notes.append(f"no champion scores on or before {horizon_start}: backtest not computed")
        rows.append({"metric": "backtest_auc", "subject": "score", "value": None, "status": NOT_AVAILABLE})

    rate, decided = override_rate(session, as_of=as_of)
    rows.append(
        {
            "metric": "override_rate",
            "subject": "arbiters",
            "value": rate,
            "status": "ok" if rate is not None else NOT_AVAILABLE,
        }
    )
    session.execute(text("DELETE FROM monitoring_metric WHERE run_id = :r"), {"r": run_id})
    frame = pd.DataFrame(rows).assign(run_id=run_id)
    bulk_insert(session, "monitoring_metric", frame, ["run_id", "metric", "subject", "value", "status"])

    psi_rows = [r for r in rows if r["metric"] == "psi"]
    score_psi = next((r["value"] for r in psi_rows if r["subject"] == "score"), None)
    return MonitoringSummary(
        as_of=as_of,
        model_version=champion.version,
        psi_score=score_psi,
        psi_warnings=[r["subject"] for r in psi_rows if r["status"] == "warning"],
        psi_alerts=[r["subject"] for r in psi_rows if r["status"] == "alert"],
        backtest_date=backtest_date,
        backtest_auc=auc,
        grade_alerts=grade_alerts,
        override_rate=rate,
        decided_referrals=decided,
        metrics=len(frame),
        notes=notes,
    )
