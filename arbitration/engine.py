"""The arbitration engine: a rule set over every limit at once, as whole-column operations.

Pure: it receives the limit frame, the rule set, the business date and the thresholds, and
returns one row per limit with the proposed amount and its EDIFACT coding. No session, no
clock, no I/O. Every operation is row-wise (no cross-row dependence), so the result of a row
does not depend on the order of rows or on how the frame is cut into chunks, and the arbiter's
one-row explanation (``trace=True``) is the same computation as the nightly batch.

How rules combine: rules run in rule-set order; each one that fires may lower the amount
(``cap``, ``factor``, ``cancel``, ``refuse``), refer to an arbiter, or stop later rules for its
rows. The rule that set the final amount is the *binding* rule: its 4509 reason (and optional
4507 type) code the decision. Amounts never rise except up to a pending request.
"""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

import numpy as np
import pandas as pd

from arbitration.params import ArbitrationParams, ParamValues
from arbitration.prepare import Prepared, prepare
from arbitration.rules import RuleSet
from arbitration.rules.loader import value_at
from arbitration.rules.operators import apply
from arbitration.rules.schema import Action, AllOf, AnyOf, Condition, Leaf, NotOf, Rule
from arbitration.rules.variables import VARIABLES
from arbitration.tracing import annotate, build_trace
from models.codes import ReasonCode, RequestType
from models.codes import ResponseType as RT

OUTPUT_COLUMNS = (
    "limit_id",
    "policy_id",
    "buyer_id",
    "policyholder_id",
    "desk",
    "country",
    "grade",
    "oecd_category",
    "model_version",
    "previous_cents",
    "requested_cents",
    "target_cents",
    "proposed_cents",
    "decision",
    "decision_type",
    "reason_code",
    "referred",
    "automatic",
    "four_eyes",
    "required_authority_cents",
    "immediate",
    "effective_date",
    "binding_rule",
    "reason_rule",
    "fired_rules",
    "observed",
    "explanation",
)


class EvaluationError(Exception):
    """The frame cannot be evaluated (a value of a rule is not in force at the business date)."""


def resolve(value: Any, rule: Rule, as_of: date) -> Any:
    """A literal, or the rule's dated value in force at ``as_of`` for ``$name`` (None if none yet)."""
    if isinstance(value, str) and value.startswith("$"):
        return value_at(rule.values[value[1:]], as_of)
    if isinstance(value, list):
        return [resolve(v, rule, as_of) for v in value]
    return value


def in_effect(rule: Rule, as_of: date) -> bool:
    """A rule is in force once every one of its dated values has a value at ``as_of``."""
    return all(value_at(series, as_of) is not None for series in rule.values.values())


def leaf_mask(leaf: Leaf, rule: Rule, data: Prepared, as_of: date) -> np.ndarray:
    """One test over the whole column. Rules share tests (``has_request = true``, ``grade <= 8``):
    each distinct (variable, operator, value) is computed once per evaluation (the cache lives on
    the prepared data, so it never outlives one frame); callers must not modify the result."""
    variable = VARIABLES[leaf.var]
    value = resolve(leaf.value, rule, as_of)
    if variable.scale != 1.0 and value is not None:
        value = [v * variable.scale for v in value] if isinstance(value, list) else value * variable.scale
    key = (leaf.var, leaf.op, repr(value))
    found = data.masks.get(key)
    if found is None:
        found = data.masks[key] = apply(leaf.op, data[variable.column], value)
    return found


def condition_mask(condition: Condition, rule: Rule, data: Prepared, as_of: date) -> np.ndarray:
    if isinstance(condition, Leaf):
        return leaf_mask(condition, rule, data, as_of)
    if isinstance(condition, AllOf):
        result = np.ones(data.size, dtype=bool)
        for child in condition.all:
            result &= condition_mask(child, rule, data, as_of)
        return result
    if isinstance(condition, AnyOf):
        result = np.zeros(data.size, dtype=bool)
        for child in condition.any:
            result |= condition_mask(child, rule, data, as_of)
        return result
    if isinstance(condition, NotOf):
        return ~condition_mask(condition.not_, rule, data, as_of)
    raise EvaluationError(f"expected a condition node, found {type(condition).__name__}")


def _round_down(cents: np.ndarray, unit: int) -> np.ndarray:
    return np.floor(cents / unit) * unit


def action_cap(
    action: Action, rule: Rule, data: Prepared, target: np.ndarray, p: ParamValues, rows: np.ndarray
) -> np.ndarray:
    """The most this action allows on each of ``rows`` (NaN = no bound, e.g. revenue unknown).

    Computed only for the rows where the rule fired: most rules catch few limits a night."""
    as_of = p.as_of
    size = len(rows)
    if action.action == "cancel":
        return np.zeros(size)
    if action.action == "refuse":
        return np.where(data["has_request"][rows], data["granted_cents"][rows], np.nan)
    if action.action == "factor":
        return _round_down(target[rows] * float(resolve(action.factor, rule, as_of)), p.rounding_unit_cents)
    if action.action == "cap":
        if action.amount is not None:
            cap = np.full(size, float(resolve(action.amount, rule, as_of)) * 100.0)
        else:
            base = data["revenue_cents" if action.share_of == "revenue" else "equity_cents"][rows]
            if action.share_by_grade:
                table = np.full(12, np.nan)
                for grade, share in action.share_by_grade.items():
                    table[grade] = float(resolve(share, rule, as_of))
                grades = data["grade"][rows]
                index = np.where(np.isnan(grades), 11, np.clip(grades, 0, 11)).astype(np.int64)
                share_arr = table[index]
            else:
                share_arr = np.full(size, float(resolve(action.share, rule, as_of)))
            cap = np.clip(base * share_arr, 0, None)
        return _round_down(cap, p.rounding_unit_cents)
    return np.full(size, np.nan)


def _decision_types(
    amount: np.ndarray, previous: np.ndarray, target: np.ndarray, request: np.ndarray
) -> np.ndarray:
    """EDIFACT 4507 from the amounts: answers to requests, then unsolicited revisions."""
    asks_more = np.isin(request, [RequestType.NEW, RequestType.INCREASE])
    lowered = np.where(amount <= 0, RT.CANCELLATION, RT.REDUCTION)
    answer = np.select(
        [amount >= target, amount > previous, amount == previous],
        [RT.APPROVED, RT.PARTLY_APPROVED, RT.NOT_APPROVED],
        default=lowered,
    )
    revision = np.where(
        amount < previous, lowered, np.where(request == RequestType.PROLONGATION, RT.APPROVED, 0)
    )
    return np.where(asks_more, answer, revision).astype(np.int64)


def evaluate(
    frame: pd.DataFrame,
    rule_set: RuleSet,
    *,
    as_of: date,
    params: ArbitrationParams,
    trace: bool = False,
) -> pd.DataFrame:
    """Evaluate ``rule_set`` over every limit of ``frame`` at ``as_of``; one output row per input row.

    ``decision`` says whether a decision is due; for those rows ``decision_type`` (4507),
    ``reason_code`` (4509) and ``reason_rule`` (the rule it comes from), ``proposed_cents``,
    ``referred`` / ``automatic`` / ``four_eyes``, ``effective_date``, ``fired_rules`` and
    ``observed`` (JSON) and ``explanation`` are set. With ``trace`` a ``trace`` column holds,
    per row, every rule with its conditions, the observed values and what it did: the
    arbiter's explanation."""
    p = params.at(as_of)
    data = prepare(frame, rule_set, p)
    n = data.size
    previous = data["granted_cents"]
    request = data["request_type"]
    requested = data["requested_cents"]
    target = np.select(
        [
            data["has_request"],
            request == RequestType.CANCELLATION,
            (request == RequestType.REDUCTION) & ~np.isnan(requested),
        ],
        [requested, 0.0, np.fmin(requested, previous)],
        default=previous,
    )
    amount = target.copy()
    binding = np.full(n, -1, dtype=np.int64)
    refer_rule = np.full(n, -1, dtype=np.int64)
    immediate = np.zeros(n, dtype=bool)
    automatic = np.zeros(n, dtype=bool)
    active = np.ones(n, dtype=bool)
    fired_by_rule: list[np.ndarray] = []
    steps: list[dict[str, Any]] = []
    for index, rule in enumerate(rule_set.rules):
        live = in_effect(rule, as_of)
        fired = (condition_mask(rule.when, rule, data, as_of) & active) if live else np.zeros(n, dtype=bool)
        action = rule.then
        rows = np.flatnonzero(fired)
        if rows.size:
            cap = action_cap(action, rule, data, target, p, rows)
            with np.errstate(invalid="ignore"):
                lowers = cap < amount[rows]
                if action.action in ("cancel", "refuse"):
                    # a cancellation or a refusal decides even when the amount would not move (a
                    # cancellation of a limit already at 0, a refused request for no more than the
                    # current amount): unless an earlier rule already set the amount, it names the
                    # decision
                    lowers |= (cap <= amount[rows]) & (binding[rows] < 0)
            amount[rows[lowers]] = cap[lowers]
            binding[rows[lowers]] = index
            if action.action == "refer" or action.refer:
                first = rows[refer_rule[rows] < 0]
                refer_rule[first] = index
            immediate[rows] |= action.immediate
            automatic[rows] |= action.automatic
            if action.stop:
                active[rows] = False
        fired_by_rule.append(fired)
        if trace:
            steps.append({"in_effect": live, "fired": fired, "amount": amount.copy()})

    no_score = ~data["has_score"]
    referred_by_rule = refer_rule >= 0
    decision_type = _decision_types(amount, previous, target, request)
    rules = rule_set.rules
    override = np.array([r.then.decision or 0 for r in rules] + [0], dtype=np.int64)
    reasons = np.array([r.then.reason for r in rules] + [ReasonCode.OTHER], dtype=np.int64)
    bound = binding >= 0
    decision_type = np.where(bound & (override[binding] > 0), override[binding], decision_type)
    referred = referred_by_rule | no_score
    decision_type = np.where((decision_type == 0) & referred, RT.STILL_INVESTIGATING, decision_type)
    # the rule whose 4509 reason codes the decision: the binding rule, else the referring one;
    # its motive is what the policyholder reads; -1 when the reason comes from no rule
    reason_index = np.where(bound, binding, np.where(referred_by_rule, refer_rule, -1))
    reason = np.where(
        reason_index >= 0,
        reasons[reason_index],
        np.where(no_score, ReasonCode.OTHER, ReasonCode.NO_COMMENT),
    )

    answering = ~np.isnan(request)
    threshold = np.where(
        data["is_export"], data["named_threshold_export_cents"], data["named_threshold_domestic_cents"]
    )
    named = np.fmax(previous, np.nan_to_num(target)) >= threshold
    cut = previous - amount
    significant = ((cut >= p.min_change_cents) & (cut >= p.min_change_share * previous)) | (
        (amount <= 0) & (previous > 0)
    )
    quiet = (
        ~answering & ~(immediate & p.insolvency_immediate) & (data["notice_pending"] | data["open_referral"])
    )
    decision = named & (decision_type > 0) & (answering | significant | referred) & ~quiet

    applied = automatic | (~referred & (np.fmax(previous, amount) <= p.automatic_authority_cents))
    required = np.fmax(previous, amount)
    bites_at_once = (immediate & p.insolvency_immediate) | (amount >= previous)

    today = as_of
    later = as_of + timedelta(days=p.notice_period_days)
    ids = [""] + [r.id for r in rules]

    def obj(values: np.ndarray | pd.Series) -> pd.Series:
        return pd.Series(values, dtype=object) if not isinstance(values, pd.Series) else values

    out = pd.DataFrame(
        {
            "limit_id": obj(data["limit_id"]),
            "policy_id": obj(data["policy_id"]),
            "buyer_id": obj(data["buyer_id"]),
            "policyholder_id": obj(data["policyholder_id"]),
            "desk": data["desk"],
            "country": data["country"],
            "grade": data["grade"],
            "oecd_category": data["oecd_category"],
            "model_version": obj(data["model_version"]),
            "previous_cents": previous.astype(np.int64),
            # what a request asked for (missing when the limit answers none): the decision keeps
            # it, as applying the decision clears the request from the limit
            "requested_cents": pd.array(np.where(answering, requested, np.nan), dtype="Int64"),
            "target_cents": np.nan_to_num(target).astype(np.int64),
            "proposed_cents": np.where(decision, amount, previous).astype(np.int64),
            "decision": decision,
            "decision_type": np.where(decision, decision_type, 0),
            "reason_code": np.where(decision, reason, 0),
            "referred": decision & ~applied,
            "automatic": decision & applied,
            "four_eyes": decision & ~applied & (required > p.four_eyes_threshold_cents),
            "required_authority_cents": np.where(decision, required, 0).astype(np.int64),
            "immediate": decision & immediate & p.insolvency_immediate,
            "effective_date": pd.Categorical.from_codes(
                np.where(bites_at_once | (later == today), 0, 1),
                categories=pd.Index([today, later] if later != today else [today], dtype=object),
            ),
            "binding_rule": pd.Categorical.from_codes(binding + 1, categories=pd.Index(ids, dtype=object)),
            "reason_rule": pd.Categorical.from_codes(
                np.where(decision, reason_index, -1) + 1, categories=pd.Index(ids, dtype=object)
            ),
        },
        copy=False,
    )
    annotate(out, data, rule_set, fired_by_rule, no_score, decision)
    if trace:
        traces: Any = build_trace(data, rule_set, steps, no_score, as_of)
        out["trace"] = traces
    return out
