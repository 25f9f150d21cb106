"""Motives: every rule that can lower a limit says why in words a policyholder reads (fr, en),
and the engine names the rule whose reason codes each decision (``reason_rule``)."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
from pydantic import ValidationError

from arbitration.engine import evaluate
from arbitration.rules import load_rule_set
from arbitration.rules.schema import Motive
from config.settings import CONFIG_DIR
from tests.arbitration.test_cases import AS_OF, PARAMS, RULES, limit_frame
from tests.arbitration.test_rules_loader import errors_of, write

LOWERING = {"cap", "factor", "cancel", "refuse"}

WITH_MOTIVE = """\
default_desk: general
rules:
  - id: dbt
    description: Slow payers are halved.
    reference: DOMAIN.md, What the insurer watches
    motive:
      fr: "retards de paiement importants signalés sur cet acheteur"
      en: "long payment delays reported on this buyer"
    when: {var: days_beyond_terms, op: gt, value: 60}
    then: {action: factor, factor: 0.5, reason: 15}
"""


def test_every_shipped_rule_that_can_lower_a_limit_has_a_motive_in_french_and_english() -> None:
    rule_set = load_rule_set(CONFIG_DIR / "rules")
    lowering = [r for r in rule_set.rules if r.then.action in LOWERING]
    assert len(lowering) >= 20
    missing = [f"{r.id} ({rule_set.origins[r.id]})" for r in lowering if r.motive is None]
    assert not missing, f"rules that can lower a limit without a motive for the policyholder: {missing}"
    for rule in lowering:
        assert rule.motive is not None
        assert rule.motive.fr != rule.motive.en, rule.id
        assert "autre motif" not in rule.motive.fr.lower() and rule.id not in rule.motive.fr, rule.id


def test_a_rule_file_with_a_motive_loads_it(tmp_path: Path) -> None:
    write(tmp_path, "rules.yaml", WITH_MOTIVE)
    rule = load_rule_set(tmp_path).rule("dbt")
    assert rule.motive == Motive(
        fr="retards de paiement importants signalés sur cet acheteur",
        en="long payment delays reported on this buyer",
    )


def test_a_motive_without_english_is_rejected_with_file_and_line(tmp_path: Path) -> None:
    text = WITH_MOTIVE.replace('      en: "long payment delays reported on this buyer"\n', "")
    errors = errors_of(write(tmp_path, "rules.yaml", text))
    assert len(errors) == 1, errors
    assert errors[0].startswith("rules.yaml:6: rules.0.motive:"), errors
    assert "missing: en" in errors[0], errors


def test_a_motive_on_two_lines_or_too_long_or_blank_is_rejected(tmp_path: Path) -> None:
    two_lines = WITH_MOTIVE.replace(
        '"long payment delays reported on this buyer"', '"long payment delays\\nreported on this buyer"'
    )
    assert any(
        e.startswith("rules.yaml:8: rules.0.motive.en:") and "one line" in e
        for e in errors_of(write(tmp_path / "a", "rules.yaml", two_lines))
    )
    too_long = WITH_MOTIVE.replace("long payment delays reported on this buyer", "x" * 201)
    assert any(
        e.startswith("rules.yaml:8: rules.0.motive.en:") and "200" in e
        for e in errors_of(write(tmp_path / "b", "rules.yaml", too_long))
    )
    blank = WITH_MOTIVE.replace('"retards de paiement importants signalés sur cet acheteur"', '"  "')
    assert any(
        e.startswith("rules.yaml:7: rules.0.motive.fr:")
        for e in errors_of(write(tmp_path / "c", "rules.yaml", blank))
    )
    with pytest.raises(ValidationError, match="Extra inputs"):
        Motive.model_validate({"fr": "a", "en": "b", "de": "c"})


def test_a_limit_capped_by_a_score_rule_names_that_rule_as_its_reason() -> None:
    out = evaluate(limit_frame({"equity_eur": 100_000}), RULES, as_of=AS_OF, params=PARAMS).iloc[0]
    assert out["decision"] and out["proposed_cents"] == 30_000 * 100
    assert out["binding_rule"] == out["reason_rule"] == "score.equity-cap"
    assert out["reason_code"] == RULES.rule("score.equity-cap").then.reason


def test_a_referred_only_limit_names_the_referring_rule() -> None:
    changes = {"grade": 6, "granted_eur": 3_000_000, "equity_eur": 100_000_000, "revenue_eur": 1_000_000_000}
    out = evaluate(limit_frame(changes), RULES, as_of=AS_OF, params=PARAMS).iloc[0]
    assert out["decision"] and out["binding_rule"] == ""
    assert out["reason_rule"] == "score.large-limit-review"
    assert out["reason_code"] == RULES.rule("score.large-limit-review").then.reason


def test_no_reason_rule_without_a_decision_or_for_a_missing_score() -> None:
    frame = pd.concat(
        [limit_frame({}), limit_frame({"limit_id": 2, "grade": None, "pd_12m": None})], ignore_index=True
    )
    out = evaluate(frame, RULES, as_of=AS_OF, params=PARAMS)
    assert list(out["decision"]) == [False, True]
    assert list(out["reason_rule"]) == ["", ""]
