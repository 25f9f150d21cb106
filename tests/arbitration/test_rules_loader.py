"""The rule-set loader: the default set is valid, and every error names file, line and field."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from arbitration.rules import RuleSetError, load_rule_set
from config.settings import CONFIG_DIR

DEFAULT = CONFIG_DIR / "rules"

GOOD = """\
default_desk: general
rules:
  - id: dbt
    description: Slow payers are halved.
    reference: DOMAIN.md, What the insurer watches
    values:
      days: {2020-01-01: 60, 2027-01-01: 45}
    when: {var: days_beyond_terms, op: gt, value: $days}
    then: {action: factor, factor: 0.5, reason: 15}
"""


def write(folder: Path, name: str, text: str) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / name).write_text(text, encoding="utf-8")
    return folder


def errors_of(folder: Path) -> list[str]:
    with pytest.raises(RuleSetError) as info:
        load_rule_set(folder)
    return info.value.errors


def test_default_rule_set_is_valid_realistic_and_referenced() -> None:
    rule_set = load_rule_set(DEFAULT)
    assert len(rule_set.rules) >= 30
    assert {"automotive", "meat", "construction", "retail", "latam"} <= {d.id for d in rule_set.desks}
    assert rule_set.default_desk == "general"
    assert all(r.reference.strip() and r.description.strip() for r in rule_set.rules)
    assert len(rule_set.version) == 64
    assert rule_set.origins["insolvency.liquidation"].startswith("10-insolvency.yaml:")


def test_unknown_variable_and_operator_are_rejected_with_file_and_line(tmp_path: Path) -> None:
    text = GOOD.replace("var: days_beyond_terms, op: gt", "var: days_late, op: greater")
    errors = errors_of(write(tmp_path, "rules.yaml", text))
    assert any(
        e.startswith("rules.yaml:8: rules.0.when.var: unknown variable 'days_late'") for e in errors
    ), errors
    assert any(e.startswith("rules.yaml:8: rules.0.when.op: unknown operator 'greater'") for e in errors), (
        errors
    )


def test_structure_errors_name_the_line_of_the_field(tmp_path: Path) -> None:
    text = GOOD.replace("action: factor, factor: 0.5", "action: shrink, factor: 0.5")
    errors = errors_of(write(tmp_path, "rules.yaml", text))
    assert len(errors) == 1 and errors[0].startswith("rules.yaml:9: rules.0.then.action:"), errors


def test_operator_must_fit_the_variable_type_and_value_shape(tmp_path: Path) -> None:
    text = GOOD.replace(
        "{var: days_beyond_terms, op: gt, value: $days}", '{var: grade, op: matches, value: ["9"]}'
    )
    text += "  - id: b\n    description: d\n    reference: r\n"
    text += "    when: {var: grade, op: between, value: 3}\n    then: {action: cancel, reason: 99}\n"
    errors = errors_of(write(tmp_path, "rules.yaml", text))
    assert any("rules.yaml:8:" in e and "does not apply to integer variable 'grade'" in e for e in errors), (
        errors
    )
    assert any(e.startswith("rules.yaml:13: rules.1.when.value: expected a list [low, high]") for e in errors)
    assert any(e.startswith("rules.yaml:14: rules.1.then.reason: expected an EDIFACT 4509") for e in errors)


def test_undefined_dated_value_and_duplicate_ids_across_files(tmp_path: Path) -> None:
    write(tmp_path, "a.yaml", GOOD)
    write(
        tmp_path,
        "b.yaml",
        GOOD.replace("default_desk: general\n", "").replace("value: $days", "value: $limit"),
    )
    errors = errors_of(tmp_path)
    assert any(
        e.startswith("b.yaml:2: rules.0.id: duplicate rule id 'dbt', first defined at a.yaml:3")
        for e in errors
    )
    assert any(e.startswith("b.yaml:") and "$limit is used but not defined" in e for e in errors), errors


def test_invalid_yaml_names_the_line(tmp_path: Path) -> None:
    errors = errors_of(write(tmp_path, "broken.yaml", GOOD.replace("then: {", "then: [")))
    assert errors[0].startswith("broken.yaml:") and "invalid YAML" in errors[0]


def test_an_invalid_candidate_never_half_loads_and_the_active_set_stays(tmp_path: Path) -> None:
    active_dir = tmp_path / "active"
    shutil.copytree(DEFAULT, active_dir)
    active = load_rule_set(active_dir)
    candidate = tmp_path / "candidate"
    shutil.copytree(DEFAULT, candidate)
    (candidate / "99-bad.yaml").write_text(GOOD.replace("default_desk: general\n", "").replace("gt", "gtt"))
    with pytest.raises(RuleSetError):
        load_rule_set(candidate)
    assert load_rule_set(active_dir).version == active.version
    assert len(active.rules) == len(load_rule_set(active_dir).rules)


def test_version_is_a_content_hash(tmp_path: Path) -> None:
    first = load_rule_set(write(tmp_path / "a", "rules.yaml", GOOD)).version
    same = load_rule_set(write(tmp_path / "b", "rules.yaml", GOOD)).version
    other = load_rule_set(write(tmp_path / "c", "rules.yaml", GOOD.replace("0.5", "0.6"))).version
    assert first == same != other


def test_a_directory_without_rules_is_an_error(tmp_path: Path) -> None:
    tmp_path.mkdir(exist_ok=True)
    assert "expected at least one *.yaml" in errors_of(tmp_path)[0]


def test_a_rule_naming_an_unknown_desk_is_rejected(tmp_path: Path) -> None:
    text = GOOD.replace(
        "{var: days_beyond_terms, op: gt, value: $days}", "{var: desk, op: eq, value: automobile}"
    )
    errors = errors_of(write(tmp_path, "rules.yaml", text))
    assert any(e.startswith("rules.yaml:8: when.value: unknown desk 'automobile'") for e in errors), errors
