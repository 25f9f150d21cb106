"""The pydantic schema of a rule file: desks, rules, conditions and actions.

Conditions are a small tree: a leaf ``{var, op, value}`` or ``{all: [...]}``, ``{any: [...]}``,
``{not: ...}``. Any number in a condition value or an action may be written as ``$name``,
naming one of the rule's ``values``: a series of dated values (openfisca style), so a
threshold can change on a date and a past decision can be re-run exactly as it was made.
Structure is checked here; names, types and references by :mod:`arbitration.rules.loader`.
"""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Discriminator, Field, Tag

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


class Rule(_Strict):
    id: str = Field(pattern=r"^[a-z0-9][a-z0-9._-]*$", max_length=60)
    description: str = Field(min_length=1)
    reference: str = Field(min_length=1)
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
