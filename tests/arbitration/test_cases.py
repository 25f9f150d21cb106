"""Decision cases as YAML tables (``cases/*.yaml``), each named by a sentence.

Each case starts from a healthy French buyer with a 100,000 EUR limit and changes only what the
sentence is about, so the file reads as a specification for arbiters and risk managers."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
import yaml

from arbitration.engine import evaluate
from arbitration.params import load_params
from arbitration.rules import load_rule_set
from config.settings import CONFIG_DIR

CASES_DIR = Path(__file__).parent / "cases"
AS_OF = date(2026, 11, 23)

HEALTHY: dict[str, Any] = {
    "limit_id": 1,
    "policy_id": "P1",
    "buyer_id": "100000001",
    "policyholder_id": "PH1",
    "granted_eur": 100_000,
    "country": "FR",
    "naf_code": "46.90Z",
    "grade": 3,
    "pd_12m": 0.01,
    "rating": "BBB",
    "model_version": "3",
    "revenue_eur": 10_000_000,
    "equity_eur": 3_000_000,
    "creation_date": date(2005, 1, 1),
    "last_accounts_date": date(2025, 12, 31),
    "days_beyond_terms": 2.0,
    "overdue_share": 0.0,
    "overdue_declarations": 0,
    "dbt_trend_3m": 0.0,
}


def limit_frame(changes: dict[str, Any]) -> pd.DataFrame:
    row = {**HEALTHY, **changes}
    for key in [k for k in row if k.endswith("_eur")]:
        value = row.pop(key)
        row[key.removesuffix("_eur") + "_cents"] = None if value is None else value * 100
    return pd.DataFrame([row])


def _cases() -> list[Any]:
    found = []
    for path in sorted(CASES_DIR.glob("*.yaml")):
        for case in yaml.safe_load(path.read_text(encoding="utf-8")):
            found.append(pytest.param(case, id=case["name"]))
    return found


RULES = load_rule_set(CONFIG_DIR / "rules")
PARAMS = load_params(CONFIG_DIR / "arbitration.yaml")


@pytest.mark.parametrize("case", _cases())
def test_decision_case(case: dict[str, Any]) -> None:
    out = evaluate(limit_frame(case["limit"]), RULES, as_of=case.get("as_of", AS_OF), params=PARAMS).iloc[0]
    expect = dict(case["expect"])
    assert bool(out["decision"]) == expect.pop("decision", True), out.to_dict()
    if "fired" in expect:
        fired = json.loads(out["fired_rules"])
        missing = [r for r in expect.pop("fired") if r not in fired]
        assert not missing, f"expected {missing} among fired rules {fired}"
    for key, wanted in expect.items():
        if key.endswith("_eur"):
            assert out[key.removesuffix("_eur") + "_cents"] == wanted * 100, (key, out.to_dict())
        else:
            assert out[key] == wanted, (key, out[key], out.to_dict())
