"""Named thresholds: dated values resolved at the business date, errors that name the field."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest

from arbitration.params import ParamsError, load_params
from config.settings import CONFIG_DIR


def test_default_thresholds_resolve_in_cents_and_days() -> None:
    p = load_params(CONFIG_DIR / "arbitration.yaml").at(date(2026, 11, 23))
    assert p.rounding_unit_cents == 100_000
    assert p.notice_period_days == 30
    assert p.insolvency_immediate is True
    assert p.four_eyes_threshold_cents > p.automatic_authority_cents > p.min_change_cents


def test_a_dated_value_changes_on_its_date(tmp_path: Path) -> None:
    text = (CONFIG_DIR / "arbitration.yaml").read_text()
    text = text.replace("values: {2015-01-01: 30}", "values: {2015-01-01: 30, 2027-01-01: 45}")
    path = tmp_path / "arbitration.yaml"
    path.write_text(text)
    params = load_params(path)
    assert params.at(date(2026, 12, 31)).notice_period_days == 30
    assert params.at(date(2027, 1, 1)).notice_period_days == 45
    with pytest.raises(ParamsError, match="rounding_unit_eur: expected a value in force at 2010-01-01"):
        params.at(date(2010, 1, 1))


def test_a_missing_threshold_is_named(tmp_path: Path) -> None:
    text = (CONFIG_DIR / "arbitration.yaml").read_text().replace("notice_period_days:", "notice_days:")
    path = tmp_path / "arbitration.yaml"
    path.write_text(text)
    with pytest.raises(ParamsError, match="notice_period_days"):
        load_params(path)
