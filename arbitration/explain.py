"""One limit's decision explained: the engine run on a one-row frame with tracing on.

The arbiter's screen and ``vigie rules explain`` call this; because it is the same engine and
the same frame builder as the nightly batch, the screen cannot disagree with the batch."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from sqlalchemy.orm import Session

from arbitration.engine import evaluate
from arbitration.inputs import load_frame
from arbitration.params import load_params
from arbitration.rules import RuleSet, load_rule_set
from config.settings import Settings
from models.codes import ReasonCode, ResponseType


class LimitNotFoundError(Exception):
    """No open limit has this id (or it is closed with no pending request)."""


@dataclass
class Explanation:
    limit_id: int
    as_of: date
    rule_set_version: str
    decision: bool
    decision_type: int
    reason_code: int
    previous_cents: int
    proposed_cents: int
    referred: bool
    four_eyes: bool
    desk: str
    effective_date: date
    binding_rule: str
    fired_rules: list[str]
    observed: dict[str, Any]
    explanation: str | None
    trace: list[dict[str, Any]] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        data = dict(self.__dict__)
        data["as_of"] = self.as_of.isoformat()
        data["effective_date"] = self.effective_date.isoformat()
        return data

    def text(self) -> str:
        """A plain-text account, rule by rule, for the terminal."""
        if self.decision:
            head = (
                f"limit {self.limit_id} at {self.as_of}: {ResponseType(self.decision_type).name.lower()} "
                f"({ReasonCode(self.reason_code).name.lower()}), {self.previous_cents / 100:,.0f} -> "
                f"{self.proposed_cents / 100:,.0f} EUR, {'referred to ' + self.desk if self.referred else 'applied'}"
                f"{' (four eyes)' if self.four_eyes else ''}, effective {self.effective_date}"
            )
        else:
            head = f"limit {self.limit_id} at {self.as_of}: no decision (desk {self.desk})"
        lines = [head, f"rule set {self.rule_set_version[:12]}"]
        for entry in self.trace:
            mark = (
                "FIRED" if entry.get("fired") else ("-" if entry.get("in_effect", True) else "not in force")
            )
            lines.append(f"  [{mark}] {entry['rule']}: {entry['description']}")
            if entry.get("fired") and entry.get("condition"):
                lines.append(f"      saw {json.dumps(_observed(entry['condition']), default=str)}")
        return "\n".join(lines)


def _observed(node: dict[str, Any]) -> dict[str, Any]:
    if "var" in node:
        return {node["var"]: node["observed"]}
    out: dict[str, Any] = {}
    for key in ("all", "any"):
        for child in node.get(key, []):
            out |= _observed(child)
    if "not" in node:
        out |= _observed(node["not"])
    return out


def explain_limit(
    session: Session, *, limit_id: int, as_of: date, settings: Settings, rule_set: RuleSet | None = None
) -> Explanation:
    """The full, rule-by-rule explanation of what the engine proposes for one limit at ``as_of``
    (with ``rule_set``, or the active one read from ``settings``)."""
    rule_set = rule_set if rule_set is not None else load_rule_set(settings.paths.rules_dir)
    params = load_params(settings.paths.arbitration_file)
    frame = load_frame(session, as_of=as_of, limit_ids=[limit_id])
    if frame.empty:
        raise LimitNotFoundError(
            f"expected an open limit or a pending request with id {limit_id}, found none"
        )
    row = evaluate(frame, rule_set, as_of=as_of, params=params, trace=True).iloc[0]
    return Explanation(
        limit_id=int(row["limit_id"]),
        as_of=as_of,
        rule_set_version=rule_set.version,
        decision=bool(row["decision"]),
        decision_type=int(row["decision_type"]),
        reason_code=int(row["reason_code"]),
        previous_cents=int(row["previous_cents"]),
        proposed_cents=int(row["proposed_cents"]),
        referred=bool(row["referred"]),
        four_eyes=bool(row["four_eyes"]),
        desk=str(row["desk"]),
        effective_date=row["effective_date"],
        binding_rule=str(row["binding_rule"]),
        fired_rules=json.loads(row["fired_rules"]),
        observed=json.loads(row["observed"]),
        explanation=row["explanation"],
        trace=row["trace"],
    )
