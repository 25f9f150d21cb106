"""The pydantic schema of a rule file: desks, rules, conditions and actions.

Conditions are a small tree: a leaf ``{var, op, value}`` or ``{all: [...]}``, ``{any: [...]}``,
``{not: ...}``. Any number in a condition value or an action may be written as ``$name``,
naming one of the rule's ``values``: a series of dated values (openfisca style), so a
threshold can change on a date and a past decision can be re-run exactly as it was made.
Structure is checked here; names, types and references by :mod:`arbitration.rules.loader`.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Discriminator, Field, Tag, field_validator, model_validator

Number = float | str
"""A literal number, or ``$name`` referring to the rule's dated ``values``."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


class Leaf(_Strict):
    var: str
    op: str
    value: Any = None


class AllOf(_Strict):
    all: list[Condition] = Field(min_length=1)


class AnyOf(_Strict):
    any: list[Condition] = Field(min_length=1)


class NotOf(_Strict):
    not_: Condition = Field(alias="not")


def _condition_tag(node: Any) -> str:
    if isinstance(node, dict):
        for key in ("all", "any", "not"):
            if key in node:
                return key
        return "leaf"
    if isinstance(node, AllOf):
        return "all"
    if isinstance(node, AnyOf):
        return "any"
    return "not" if isinstance(node, NotOf) else "leaf"


Condition = Annotated[
    Annotated[Leaf, Tag("leaf")]
    | Annotated[AllOf, Tag("all")]
    | Annotated[AnyOf, Tag("any")]
    | Annotated[NotOf, Tag("not")],
    Discriminator(_condition_tag),
]
AllOf.model_rebuild()
AnyOf.model_rebuild()
NotOf.model_rebuild()


def leaves(condition: Condition) -> Iterator[Leaf]:
    """Every test of a condition tree, in tree order."""
    if isinstance(condition, Leaf):
        yield condition
    elif isinstance(condition, AllOf):
        for child in condition.all:
            yield from leaves(child)
    elif isinstance(condition, AnyOf):
        for child in condition.any:
            yield from leaves(child)
    elif isinstance(condition, NotOf):
        yield from leaves(condition.not_)


ActionKind = Literal["cap", "factor", "cancel", "refuse", "refer", "keep"]


class Action(_Strict):
    """What a rule does when its condition holds.

    ``cap``: at most ``amount`` EUR, or ``share`` (or ``share_by_grade``) of the buyer's
    ``share_of`` (revenue or equity); ``factor``: current amount times ``factor``; ``cancel``:
    zero; ``refuse``: a pending new/increase request is not granted (the current amount stays);
    ``refer``: an arbiter must decide; ``keep``: no change. ``immediate`` makes the decision
    effective at once (insolvency), ``automatic`` applies it whatever the amount, ``stop``
    leaves later rules out for the limits this rule caught."""

    action: ActionKind
    amount: Number | None = None
    share_of: Literal["revenue", "equity"] | None = None
    share: Number | None = None
    share_by_grade: dict[int, Number] | None = None
    factor: Number | None = None
    decision: int | None = None
    reason: int
    immediate: bool = False
    automatic: bool = False
    refer: bool = False
    stop: bool = False


class Motive(_Strict):
    """Why the limit changed, in words a policyholder reads in the notification e-mail.

    EDIFACT 4509 has no code for most of what the rules watch (a worse score is "15 other"),
    so each rule that can change a limit says its own motive, in both languages the e-mails
    are written in. One line each: the text goes into a table cell and a plain-text line."""

    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)

    fr: str = Field(max_length=200)
    en: str = Field(max_length=200)

    @model_validator(mode="before")
    @classmethod
    def _both_languages(cls, data: Any) -> Any:
        if isinstance(data, dict):
            missing = [lang for lang in ("fr", "en") if lang not in data]
            if missing:
                raise ValueError(f"expected a motive in fr and en, missing: {', '.join(missing)}")
        return data

    @field_validator("fr", "en")
    @classmethod
    def _one_line(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("expected a non-empty sentence, found only blanks")
        if value.splitlines() != [value]:
            raise ValueError("expected one line, found a line break")
        return value


class Rule(_Strict):
    id: str = Field(pattern=r"^[a-z0-9][a-z0-9._-]*$", max_length=60)
    description: str = Field(min_length=1)
    reference: str = Field(min_length=1)
    motive: Motive | None = None
    """Required in practice for rules that can lower a limit (cap, factor, cancel, refuse):
    the rule-set tests enforce it so the e-mail never falls back to "other reason"."""
    values: dict[str, dict[date, float]] = Field(default_factory=dict)
    when: Condition
    then: Action


class Desk(_Strict):
    """A desk catches a limit when every criterion it sets matches (first desk in order wins)."""

    id: str = Field(pattern=r"^[a-z0-9][a-z0-9_-]*$", max_length=40)
    kind: Literal["sector", "country"]
    description: str = Field(min_length=1)
    reference: str | None = None
    naf: list[str] = Field(default_factory=list)
    countries: list[str] = Field(default_factory=list)
    exclude_countries: list[str] = Field(default_factory=list)
    oecd_categories: list[int] = Field(default_factory=list)
    export_only: bool = False


class RuleFile(_Strict):
    description: str | None = None
    default_desk: str | None = None
    desks: list[Desk] = Field(default_factory=list)
    rules: list[Rule] = Field(default_factory=list)
