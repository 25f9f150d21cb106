"""Load a directory of rule files into one validated, versioned :class:`RuleSet`.

Why so strict: rule files are edited by risk people, and a rule that silently never fires is
worse than a file that does not load. Every problem is reported as ``file:line: field:
problem`` (all of them at once, not the first), and nothing is returned unless the whole
directory is valid, so the caller's active set stays as it was when a candidate is bad.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from arbitration.rules.operators import OPERATORS
from arbitration.rules.schema import (
    Action,
    AllOf,
    AnyOf,
    Condition,
    Desk,
    Leaf,
    Motive,
    NotOf,
    Rule,
    RuleFile,
    leaves,
)
from arbitration.rules.variables import VARIABLES
from models.codes import ReasonCode, ResponseType

Path_ = tuple[Any, ...]


class RuleSetError(Exception):
    """A rule set does not load; ``errors`` holds one ``file:line: field: problem`` per problem."""

    def __init__(self, errors: list[str]) -> None:
        self.errors = errors
        super().__init__(f"{len(errors)} error(s) in rule set:\n" + "\n".join(errors))


@dataclass(frozen=True)
class RuleSet:
    """A validated rule set. ``version`` is a content hash of its files, stored with each
    decision so a decision can be traced to the exact rules that made it."""

    rules: tuple[Rule, ...]
    desks: tuple[Desk, ...]
    default_desk: str
    version: str
    directory: Path
    origins: Mapping[str, str] = field(default_factory=dict)
    """Rule id -> ``file:line`` where it is defined."""

    def rule(self, rule_id: str) -> Rule:
        for candidate in self.rules:
            if candidate.id == rule_id:
                return candidate
        raise KeyError(f"expected a rule id of this set, found {rule_id!r}")

    @property
    def motives(self) -> dict[str, Motive]:
        """Rule id -> the motive a policyholder reads, for the rules that have one."""
        return {rule.id: rule.motive for rule in self.rules if rule.motive is not None}


def _line_map(node: yaml.Node, path: Path_ = (), out: dict[Path_, int] | None = None) -> dict[Path_, int]:
    """Path of every YAML node (keys as text, list indexes as ints) -> 1-based line."""
    out = {} if out is None else out
    out[path] = node.start_mark.line + 1
    if isinstance(node, yaml.MappingNode):
        for key, value in node.value:
            child = (*path, str(key.value))
            _line_map(value, child, out)
            out[child] = key.start_mark.line + 1
    elif isinstance(node, yaml.SequenceNode):
        for index, item in enumerate(node.value):
            _line_map(item, (*path, index), out)
    return out


def _locate(lines: dict[Path_, int], loc: tuple[Any, ...]) -> tuple[int, str]:
    """Deepest known line of a pydantic/semantic location, and the location as dotted text."""
    current: Path_ = ()
    for part in loc:
        for candidate in (part, str(part)):
            if (*current, candidate) in lines:
                current = (*current, candidate)
                break
    name = ".".join(str(p) for p in current) or "(file)"
    return lines.get(current, 1), name


def _refs(value: Any) -> Iterator[str]:
    if isinstance(value, str) and value.startswith("$"):
        yield value[1:]
    elif isinstance(value, list | tuple):
        for item in value:
            yield from _refs(item)
    elif isinstance(value, dict):
        for item in value.values():
            yield from _refs(item)


def _is_number(value: Any) -> bool:
    return (isinstance(value, int | float) and not isinstance(value, bool)) or (
        isinstance(value, str) and value.startswith("$")
    )


def _check_leaf(leaf: Leaf, where: Path_) -> Iterator[tuple[Path_, str]]:
    variable = VARIABLES.get(leaf.var)
    if variable is None:
        yield (*where, "var"), f"unknown variable {leaf.var!r}; expected one of {sorted(VARIABLES)}"
    operator = OPERATORS.get(leaf.op)
    if operator is None:
        yield (*where, "op"), f"unknown operator {leaf.op!r}; expected one of {sorted(OPERATORS)}"
    if variable is None or operator is None:
        return
    if variable.kind not in operator.kinds:
        yield (*where, "op"), f"operator {leaf.op!r} does not apply to {variable.kind} variable {leaf.var!r}"
        return
    value, at = leaf.value, (*where, "value")
    items: list[Any]
    if operator.shape == "none":
        if value is not None:
            yield at, f"operator {leaf.op!r} takes no value, found {value!r}"
        return
    if operator.shape == "pair":
        if not (isinstance(value, list) and len(value) == 2):
            yield at, f"expected a list [low, high], found {value!r}"
            return
        items = value
    elif operator.shape == "list":
        if not (isinstance(value, list) and value):
            yield at, f"expected a non-empty list, found {value!r}"
            return
        items = value
    else:
        items = [value]
    for item in items:
        ok = {
            "number": _is_number(item),
            "integer": _is_number(item) and (not isinstance(item, float) or item.is_integer()),
            "string": isinstance(item, str) and not item.startswith("$"),
            "boolean": isinstance(item, bool),
        }[variable.kind]
        if not ok:
            yield at, f"expected a {variable.kind} for {leaf.var!r}, found {item!r}"


def _walk(condition: Condition, where: Path_) -> Iterator[tuple[Path_, str]]:
    if isinstance(condition, Leaf):
        yield from _check_leaf(condition, where)
    elif isinstance(condition, AllOf):
        for index, child in enumerate(condition.all):
            yield from _walk(child, (*where, "all", index))
    elif isinstance(condition, AnyOf):
        for index, child in enumerate(condition.any):
            yield from _walk(child, (*where, "any", index))
    elif isinstance(condition, NotOf):
        yield from _walk(condition.not_, (*where, "not"))


def _check_action(action: Action, where: Path_) -> Iterator[tuple[Path_, str]]:
    needs = {
        "cap": "amount, or share_of with share or share_by_grade",
        "factor": "factor",
    }
    if action.action == "cap":
        has_share = action.share_of is not None and (action.share is not None or action.share_by_grade)
        if (action.amount is None) == (not has_share):
            yield (*where, "action"), f"cap expects exactly one of: {needs['cap']}"
        if action.share_of is None and (action.share is not None or action.share_by_grade):
            yield (*where, "share_of"), "expected revenue or equity with share / share_by_grade"
    if action.action == "factor" and action.factor is None:
        yield (*where, "factor"), "factor action expects a factor between 0 and 1"
    for name in ("amount", "share", "factor"):
        value = getattr(action, name)
        if isinstance(value, float | int) and not 0 <= value <= (1 if name != "amount" else float("inf")):
            yield (
                (*where, name),
                f"expected {'a share in [0, 1]' if name != 'amount' else '>= 0'}, found {value}",
            )
    for grade in action.share_by_grade or {}:
        if not 1 <= grade <= 10:
            yield (*where, "share_by_grade", grade), f"expected a grade 1-10, found {grade}"
    if action.decision is not None and action.decision not in {int(c) for c in ResponseType}:
        yield (*where, "decision"), f"expected an EDIFACT 4507 code 1-11, found {action.decision}"
    if action.reason not in {int(c) for c in ReasonCode}:
        yield (*where, "reason"), f"expected an EDIFACT 4509 code 1-15, found {action.reason}"


def _check_rule(rule: Rule, where: Path_) -> Iterator[tuple[Path_, str]]:
    yield from _walk(rule.when, (*where, "when"))
    yield from _check_action(rule.then, (*where, "then"))
    for ref in set(_refs(rule.when.model_dump(by_alias=True))) | set(_refs(rule.then.model_dump())):
        if ref not in rule.values:
            yield (
                (*where, "values"),
                f"${ref} is used but not defined in values (defined: {sorted(rule.values)})",
            )
    for name, series in rule.values.items():
        if not series:
            yield (*where, "values", name), "expected at least one dated value"


def _desk_values(
    rule: Rule, name: str, lines: dict[Path_, int], where: Path_
) -> Iterator[tuple[str, int, str]]:
    """Desk names a rule compares ``desk`` with, with the rule's line (checked once all desks are known)."""
    line = _locate(lines, (*where, "when"))[0]
    for node in leaves(rule.when):
        if node.var == "desk" and node.value is not None:
            for value in node.value if isinstance(node.value, list) else [node.value]:
                yield name, line, str(value)


def _parse_file(path: Path, name: str) -> tuple[RuleFile | None, dict[Path_, int], list[str]]:
    try:
        text = path.read_text(encoding="utf-8")
        node = yaml.compose(text)
        data = yaml.safe_load(text)
    except (OSError, UnicodeDecodeError) as exc:
        return None, {}, [f"{name}:1: (file): cannot be read: {exc}"]
    except yaml.MarkedYAMLError as exc:
        line = exc.problem_mark.line + 1 if exc.problem_mark else 1
        return None, {}, [f"{name}:{line}: (file): invalid YAML: {exc.problem}"]
    lines = _line_map(node) if node is not None else {(): 1}
    if not isinstance(data, dict):
        return None, lines, [f"{name}:1: (file): expected a mapping with desks and/or rules, found {data!r}"]
    try:
        parsed = RuleFile.model_validate(data)
    except ValidationError as exc:
        errors = []
        for item in exc.errors():
            line, field_name = _locate(lines, tuple(item["loc"]))
            errors.append(f"{name}:{line}: {field_name}: {item['msg']} (found {item.get('input')!r})")
        return None, lines, errors
    return parsed, lines, []


def load_rule_set(directory: Path) -> RuleSet:
    """Read every ``*.yaml`` file of ``directory`` (sorted by name) into one rule set.

    Raises :class:`RuleSetError` listing every problem as ``file:line: field: problem``."""
    directory = Path(directory)
    if not directory.is_dir():
        raise RuleSetError([f"{directory}:0: (directory): expected a folder of *.yaml rule files"])
    paths = sorted(directory.glob("*.yaml"))
    if not paths:
        raise RuleSetError(
            [f"{directory}:0: (directory): expected at least one *.yaml rule file, found none"]
        )
    errors: list[str] = []
    rules: list[Rule] = []
    desks: list[Desk] = []
    origins: dict[str, str] = {}
    desk_origins: dict[str, str] = {}
    default_desk: str | None = None
    digest = hashlib.sha256()
    desk_uses: list[tuple[str, int, str]] = []
    for path in paths:
        name = path.name
        digest.update(name.encode() + b"\0" + path.read_bytes() + b"\0")
        parsed, lines, file_errors = _parse_file(path, name)
        errors.extend(file_errors)
        if parsed is None:
            continue
        problems: list[tuple[Path_, str]] = []
        for index, rule in enumerate(parsed.rules):
            where: Path_ = ("rules", index)
            problems.extend(_check_rule(rule, where))
            here = f"{name}:{_locate(lines, (*where, 'id'))[0]}"
            desk_uses.extend(_desk_values(rule, name, lines, where))
            if rule.id in origins:
                problems.append(
                    ((*where, "id"), f"duplicate rule id {rule.id!r}, first defined at {origins[rule.id]}")
                )
            else:
                origins[rule.id] = here
                rules.append(rule)
        for index, desk in enumerate(parsed.desks):
            where = ("desks", index)
            if desk.id in desk_origins:
                problems.append(
                    ((*where, "id"), f"duplicate desk id {desk.id!r}, first at {desk_origins[desk.id]}")
                )
            else:
                desk_origins[desk.id] = f"{name}:{_locate(lines, (*where, 'id'))[0]}"
                desks.append(desk)
        if parsed.default_desk is not None:
            if default_desk is not None and default_desk != parsed.default_desk:
                problems.append((("default_desk",), f"default desk already set to {default_desk!r}"))
            default_desk = parsed.default_desk
        for loc, message in problems:
            line, field_name = _locate(lines, loc)
            errors.append(f"{name}:{line}: {field_name}: {message}")
    known_desks = set(desk_origins) | ({default_desk} if default_desk else set())
    for where_text, line, desk_name in desk_uses:
        if desk_name not in known_desks:
            expected = sorted(known_desks)
            errors.append(
                f"{where_text}:{line}: when.value: unknown desk {desk_name!r}; expected one of {expected}"
            )
    if not errors and not rules:
        errors.append(f"{paths[0].name}:1: rules: expected at least one rule in the set")
    if default_desk is None and not errors:
        errors.append(f"{paths[0].name}:1: default_desk: expected one file to name the default desk")
    if errors or default_desk is None:
        raise RuleSetError(errors)
    return RuleSet(
        rules=tuple(rules),
        desks=tuple(desks),
        default_desk=default_desk,
        version=digest.hexdigest(),
        directory=directory,
        origins=origins,
    )


def value_at(series: Mapping[date, float], as_of: date) -> float | None:
    """The value in force at ``as_of`` (latest date <= as_of), or None before the first date."""
    dates = [d for d in series if d <= as_of]
    return series[max(dates)] if dates else None
