"""The settings object: defaults, environment, TOML file, and clear errors."""

from __future__ import annotations

from pathlib import Path

import pytest

from config.settings import SettingsError, load_settings


def test_defaults_keep_everything_in_the_work_directory(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("VIGIE_CONFIG", raising=False)
    settings = load_settings()
    assert settings.database_url == "sqlite:///var/vigie.db"
    assert settings.tracking_uri == "sqlite:///var/mlflow.db"
    assert settings.registry_uri == settings.tracking_uri
    assert settings.outbox_dir == Path("var/outbox")
    assert settings.mail.transport == "file"
    assert settings.scheduler.timezone == "Europe/Paris"


def test_environment_overrides_nested_groups(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("VIGIE_WORKDIR", "/srv/vigie")
    monkeypatch.setenv("VIGIE_MAIL__TRANSPORT", "smtp")
    monkeypatch.setenv("VIGIE_MAIL__SMTP_PORT", "2525")
    settings = load_settings()
    assert settings.database_url == "sqlite:////srv/vigie/vigie.db"
    assert settings.mail.transport == "smtp"
    assert settings.mail.smtp_port == 2525


def test_toml_file_named_by_vigie_config(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    config = tmp_path / "vigie.toml"
    config.write_text(
        'workdir = "/data"\n[database]\nurl = "postgresql+psycopg://u@db/vigie"\n', encoding="utf-8"
    )
    monkeypatch.setenv("VIGIE_CONFIG", str(config))
    settings = load_settings()
    assert settings.database_url == "postgresql+psycopg://u@db/vigie"
    assert settings.outbox_dir == Path("/data/outbox")


def test_environment_wins_over_the_toml_file(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    config = tmp_path / "vigie.toml"
    config.write_text('workdir = "/data"\n', encoding="utf-8")
    monkeypatch.setenv("VIGIE_CONFIG", str(config))
    monkeypatch.setenv("VIGIE_WORKDIR", "/elsewhere")
    assert load_settings().workdir == Path("/elsewhere")


def test_invalid_value_names_the_variable_and_what_was_expected(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("VIGIE_MAIL__SMTP_PORT", "seventy")
    with pytest.raises(SettingsError, match="VIGIE_MAIL__SMTP_PORT") as error:
        load_settings()
    assert "integer" in str(error.value)


def test_unknown_setting_is_refused(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    config = tmp_path / "vigie.toml"
    config.write_text('databse = "typo"\n', encoding="utf-8")
    monkeypatch.setenv("VIGIE_CONFIG", str(config))
    with pytest.raises(SettingsError, match="VIGIE_DATABSE"):
        load_settings()


def test_missing_config_file_is_named(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("VIGIE_CONFIG", str(tmp_path / "absent.toml"))
    with pytest.raises(SettingsError, match="VIGIE_CONFIG"):
        load_settings()


def test_time_zone_must_exist(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("VIGIE_SCHEDULER__TIMEZONE", "Europe/Atlantis")
    with pytest.raises(SettingsError, match="VIGIE_SCHEDULER__TIMEZONE"):
        load_settings()


@pytest.mark.parametrize("moment", ["02:30", "02:00"])
def test_a_nightly_time_inside_a_daylight_saving_jump_is_refused(moment: str) -> None:
    with pytest.raises(SettingsError, match="daylight-saving"):
        load_settings(scheduler={"nightly_time": moment})


def test_nothing_but_the_settings_module_reads_the_environment() -> None:
    root = Path(__file__).resolve().parents[1]
    offenders = [
        str(path.relative_to(root))
        for package in ("config", "models", "feeds", "scoring", "arbitration", "jobs")
        for path in (root / package).rglob("*.py")
        if path.name != "settings.py" and ("os.environ" in path.read_text() or "getenv(" in path.read_text())
    ]
    assert offenders == []
