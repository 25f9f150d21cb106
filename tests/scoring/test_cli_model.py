"""``vigie model``: one-line errors with the model-registry exit code."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.test_cli import vigie

pytestmark = pytest.mark.slow


def test_list_on_an_empty_registry_and_promote_of_an_unknown_version(tmp_path: Path):
    env = {"VIGIE_WORKDIR": str(tmp_path / "work")}
    listed = vigie("model", "list", env=env)
    assert listed.returncode == 0, listed.stderr
    assert "no registered version yet" in listed.stdout
    promoted = vigie("model", "promote", "3", env=env)
    assert promoted.returncode == 6
    assert promoted.stderr.strip().splitlines() == [
        "error: model vigie-buyer-pd has no version '3'; see `vigie model list`"
    ]
    bad_alias = vigie("model", "promote", "3", "--alias", "boss", env=env)
    assert bad_alias.returncode == 6 and "champion or challenger" in bad_alias.stderr


def test_train_needs_a_date(tmp_path: Path):
    result = vigie("model", "train", "--as-of", "yesterday", env={"VIGIE_WORKDIR": str(tmp_path / "w")})
    assert result.returncode == 2
    assert "expected a date YYYY-MM-DD" in result.stderr
