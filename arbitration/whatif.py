"""What-if: a candidate rule set against the current portfolio, beside the active one.

Reads only: the frame is built once, both rule sets are evaluated by the same pure engine, and
the difference is summarised. Nothing is written, so a risk committee can try a rule change on
the real book before it is deployed.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from sqlalchemy.orm import Session

from arbitration.batch import evaluate_frame
from arbitration.inputs import load_frame
from arbitration.params import load_params
from arbitration.rules import load_rule_set
from config.settings import Settings
from models.codes import ResponseType


@dataclass
class Impact:
    """Candidate vs active: decisions per 4507 type, exposure removed (EUR cents) by desk,
    country and grade, and policyholders affected."""

    as_of: date
    active_version: str
    candidate_version: str
    limits: int
    decisions: dict[str, dict[str, int]] = field(default_factory=dict)
    exposure_removed: dict[str, dict[str, dict[str, int]]] = field(default_factory=dict)
    policyholders_affected: dict[str, int] = field(default_factory=dict)
    limits_changed: int = 0

    def as_dict(self) -> dict[str, Any]:
        return {
            "as_of": self.as_of.isoformat(),
            "active_version": self.active_version,
            "candidate_version": self.candidate_version,
            "limits": self.limits,
            "limits_changed": self.limits_changed,
            "decisions": self.decisions,
            "exposure_removed_cents": self.exposure_removed,
            "policyholders_affected": self.policyholders_affected,
        }


def _type_name(code: int) -> str:
    return ResponseType(code).name.lower()


def _summarise(result: pd.DataFrame) -> tuple[dict[str, int], dict[str, dict[str, int]], int]:
    decided = result[result["decision"]]
    values = decided["decision_type"].value_counts().sort_index()
    counts = {
        _type_name(k): v for k, v in zip(values.index.astype(int).tolist(), values.tolist(), strict=True)
    }
    removed = (decided["previous_cents"] - decided["proposed_cents"]).clip(lower=0)
    # the grade as text, through its few distinct values rather than once per decided limit
    codes, grades = pd.factorize(decided["grade"], use_na_sentinel=False)
    labels = np.array(["none" if pd.isna(g) else str(int(g)) for g in grades], dtype=object)
    grade = pd.Series(labels[codes] if len(codes) else [], index=decided.index, dtype=object)
    by: dict[str, dict[str, int]] = {}
    for name, key in (
        ("desk", decided["desk"]),
        ("country", decided["country"].fillna("??")),
        ("grade", grade),
    ):
        sums = removed.groupby(key.to_numpy()).sum()
        by[name] = {str(k): int(v) for k, v in sums.items() if v}
    return counts, by, int(decided["policyholder_id"].nunique())


def simulate(session: Session, *, candidate_dir: Path, as_of: date, settings: Settings) -> Impact:
    """Evaluate the active and the candidate rule sets on today's frame; writes nothing."""
    candidate = load_rule_set(candidate_dir)
    active = load_rule_set(settings.paths.rules_dir)
    params = load_params(settings.paths.arbitration_file)
    frame = load_frame(session, as_of=as_of)
    impact = Impact(as_of, active.version, candidate.version, limits=len(frame))
    results = {}
    for name, rule_set in (("active", active), ("candidate", candidate)):
        result = evaluate_frame(frame, rule_set, as_of=as_of, params=params)
        results[name] = result
        counts, removed, holders = _summarise(result)
        impact.decisions[name] = counts
        impact.exposure_removed[name] = removed
        impact.policyholders_affected[name] = holders
    a, c = results["active"], results["candidate"]
    changed = (a["decision"] != c["decision"]) | (a["proposed_cents"] != c["proposed_cents"])
    impact.limits_changed = int(changed.sum())
    return impact
