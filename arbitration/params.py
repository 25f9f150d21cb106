"""Named thresholds of arbitration (``config/arbitration.yaml``), effective-dated.

Why dated: the notice period or the automatic authority change by decision of the risk
committee; keeping every value with the date it applies from lets a past night be re-run with
the thresholds of that night."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from pathlib import Path

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from arbitration.rules.loader import value_at


class ParamsError(Exception):
    """The arbitration parameter file is missing or invalid; the message names the field."""


class DatedValue(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    description: str
    reference: str
    values: dict[date, float] = Field(min_length=1)

    def at(self, as_of: date, name: str = "value") -> float:
        found = value_at(self.values, as_of)
        if found is None:
            raise ParamsError(
                f"{name}: expected a value in force at {as_of}, found the first from {min(self.values)}"
            )
        return found


@dataclass(frozen=True)
class ParamValues:
    """The thresholds in force at one business date, in cents and days."""

    as_of: date
    rounding_unit_cents: int
    min_change_cents: int
    min_change_share: float
    automatic_authority_cents: int
    four_eyes_threshold_cents: int
    notice_period_days: int
    insolvency_immediate: bool
    late_accounts_months: float


class ArbitrationParams(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    rounding_unit_eur: DatedValue
    min_change_eur: DatedValue
    min_change_share: DatedValue
    automatic_authority_eur: DatedValue
    four_eyes_threshold_eur: DatedValue
    notice_period_days: DatedValue
    insolvency_immediate: DatedValue
    late_accounts_months: DatedValue

    def at(self, as_of: date) -> ParamValues:
        """Resolve every threshold at ``as_of``."""

        def value(name: str) -> float:
            dated: DatedValue = getattr(self, name)
            return dated.at(as_of, name)

        def cents(name: str) -> int:
            return round(value(name) * 100)

        return ParamValues(
            as_of=as_of,
            rounding_unit_cents=max(1, cents("rounding_unit_eur")),
            min_change_cents=cents("min_change_eur"),
            min_change_share=value("min_change_share"),
            automatic_authority_cents=cents("automatic_authority_eur"),
            four_eyes_threshold_cents=cents("four_eyes_threshold_eur"),
            notice_period_days=int(value("notice_period_days")),
            insolvency_immediate=bool(value("insolvency_immediate")),
            late_accounts_months=value("late_accounts_months"),
        )


def load_params(path: Path) -> ArbitrationParams:
    """Read and validate ``config/arbitration.yaml`` (or the file the settings name)."""
    try:
        data = yaml.safe_load(Path(path).read_text(encoding="utf-8"))
    except OSError as exc:
        raise ParamsError(
            f"{path}: cannot be read ({exc.strerror}); expected the arbitration parameters"
        ) from None
    except yaml.YAMLError as exc:
        raise ParamsError(f"{path}: invalid YAML: {exc}") from None
    try:
        return ArbitrationParams.model_validate(data)
    except ValidationError as exc:
        problems = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors())
        raise ParamsError(f"{path}: {problems}") from None
