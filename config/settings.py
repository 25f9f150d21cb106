"""The one settings object of Vigie.

Nothing else in the code base reads the environment: every knob lives here, grouped, with
a default that lets the demo run on a fresh machine (SQLite file, local MLflow store,
e-mails written as ``.eml`` files). Production swaps URLs, not code.

Sources, highest priority first: keyword arguments, ``VIGIE_*`` environment variables
(nested groups use ``__``, e.g. ``VIGIE_DATABASE__URL``), the TOML file named by
``VIGIE_CONFIG``, then the defaults below.
"""

from __future__ import annotations

import os
from datetime import date, datetime, time, timedelta
from pathlib import Path
from typing import Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, Field, SecretStr, ValidationError, field_validator, model_validator
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

CONFIG_DIR = Path(__file__).resolve().parent
"""Folder of the embedded default data files (rule sets, scheme parameters, references)."""


class SettingsError(Exception):
    """A setting is missing or invalid; the message names the variable and what was expected."""


class DatabaseSettings(BaseModel):
    """Where the operational database lives. Empty URL = SQLite file in the work directory."""

    url: str = ""
    echo: bool = False


class MlflowSettings(BaseModel):
    """MLflow tracking and registry. Empty URIs = a local SQLite store in the work directory."""

    tracking_uri: str = ""
    registry_uri: str = ""
    model_name: str = "vigie-buyer-pd"
    experiment: str = "vigie-buyer-pd"
    training_max_buyers: int = Field(default=150_000, ge=1_000)
    """Training draws at most this many buyers (all their snapshots), uniformly at random so the
    default rate and the calibration are kept. Why: eight quarterly snapshots of a million
    buyers are eight million rows; on generator data the model reaches 0.995 of the oracle AUC
    from 60,000 buyers already, and training stays minutes, not hours."""


class MailSettings(BaseModel):
    """How notifications leave: ``file`` writes ``.eml`` files, ``smtp`` talks to a server."""

    transport: Literal["file", "smtp"] = "file"
    outbox_dir: Path | None = None
    sender: str = "Vigie Arbitrage <arbitrage@vigie.example>"
    reply_to: str = "arbitrage@vigie.example"
    smtp_host: str = "localhost"
    smtp_port: int = Field(default=25, ge=1, le=65535)
    smtp_starttls: bool = False
    smtp_username: str | None = None
    smtp_password: SecretStr | None = None
    smtp_timeout_seconds: float = Field(default=10.0, gt=0)
    max_attempts: int = Field(default=5, ge=1)
    backoff_base_seconds: float = Field(default=1.0, ge=0)
    backoff_max_seconds: float = Field(default=30.0, ge=0)


class SchedulerSettings(BaseModel):
    """The nightly schedule: wall-clock time in a named time zone, and how late a run may start."""

    timezone: str = "Europe/Paris"
    nightly_time: time = time(3, 30)
    misfire_grace_hours: float = Field(default=6.0, gt=0)

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError(f"expected an IANA time zone such as Europe/Paris, found {value!r}") from exc
        return value

    @model_validator(mode="after")
    def _time_exists_every_day(self) -> SchedulerSettings:
        """A wall-clock time inside a daylight-saving jump (02:00-02:59 in Paris) would be
        skipped one night in spring and met twice one night in autumn: refuse it."""
        zone = ZoneInfo(self.timezone)
        day = date(2026, 1, 1)
        for offset in range(0, 731):
            moment = datetime.combine(day + timedelta(days=offset), self.nightly_time)
            first = moment.replace(tzinfo=zone, fold=0)
            second = moment.replace(tzinfo=zone, fold=1)
            if first.utcoffset() != second.utcoffset():
                raise ValueError(
                    f"expected a nightly time that exists exactly once every day in {self.timezone}, "
                    f"found {self.nightly_time.isoformat('minutes')}, which a daylight-saving change "
                    f"skips or repeats on {moment.date()} (choose e.g. 03:30)"
                )
        return self


class PathSettings(BaseModel):
    """Where rule sets and scheme parameters are read from (defaults: the embedded files)."""

    rules_dir: Path = CONFIG_DIR / "rules"
    schemes_file: Path = CONFIG_DIR / "schemes.yaml"
    master_scale_file: Path = CONFIG_DIR / "master_scale.yaml"
    arbitration_file: Path = CONFIG_DIR / "arbitration.yaml"


class AdminSettings(BaseModel):
    """The arbiters' admin endpoint. Without ``secret_key`` a random one is drawn at start
    (every restart then signs everyone out): set it in production."""

    host: str = "127.0.0.1"
    port: int = Field(default=8000, ge=1, le=65535)
    secret_key: SecretStr | None = None
    secure_cookies: bool = False
    idle_minutes: int = Field(default=30, ge=1)


class MonitoringSettings(BaseModel):
    """Population-stability thresholds: below ``psi_warning`` is stable, above ``psi_alert`` has moved."""

    psi_warning: float = 0.1
    psi_alert: float = 0.25


class Settings(BaseSettings):
    """All of Vigie's configuration. Build it with :func:`load_settings`."""

    model_config = SettingsConfigDict(
        env_prefix="VIGIE_",
        env_nested_delimiter="__",
        extra="forbid",
        validate_default=True,
    )

    workdir: Path = Path("var")
    database: DatabaseSettings = DatabaseSettings()
    mlflow: MlflowSettings = MlflowSettings()
    mail: MailSettings = MailSettings()
    scheduler: SchedulerSettings = SchedulerSettings()
    paths: PathSettings = PathSettings()
    monitoring: MonitoringSettings = MonitoringSettings()
    admin: AdminSettings = AdminSettings()
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        sources: list[PydanticBaseSettingsSource] = [init_settings, env_settings]
        toml_file = os.environ.get("VIGIE_CONFIG")
        if toml_file:
            sources.append(TomlConfigSettingsSource(settings_cls, toml_file=Path(toml_file)))
        return tuple(sources)

    # Derived locations: one work directory holds everything a run writes.
    @property
    def database_url(self) -> str:
        return self.database.url or f"sqlite:///{(self.workdir / 'vigie.db').as_posix()}"

    @property
    def tracking_uri(self) -> str:
        return self.mlflow.tracking_uri or f"sqlite:///{(self.workdir / 'mlflow.db').as_posix()}"

    @property
    def registry_uri(self) -> str:
        return self.mlflow.registry_uri or self.tracking_uri

    @property
    def artifacts_dir(self) -> Path:
        return self.workdir / "mlartifacts"

    @property
    def outbox_dir(self) -> Path:
        return self.mail.outbox_dir or self.workdir / "outbox"

    @property
    def feeds_dir(self) -> Path:
        return self.workdir / "feeds"

    @property
    def reports_dir(self) -> Path:
        return self.workdir / "reports"

    @property
    def history_dir(self) -> Path:
        """Bulk history kept as Parquet (feature frames, full score history, raw payments)."""
        return self.workdir / "history"

    @property
    def payments_store_dir(self) -> Path:
        """The payment history (one Parquet store of invoices, merged at each ingest)."""
        return self.history_dir / "payments"

    def features_file(self, as_of: date) -> Path:
        """The night's scored features (Parquet): written by scoring, read back by monitoring."""
        return self.history_dir / "features" / f"features_{as_of.isoformat()}.parquet"


def _describe(error: ValidationError) -> str:
    lines = []
    for item in error.errors():
        where = "__".join(str(part) for part in item["loc"])
        variable = f"VIGIE_{where.upper()}" if where else "VIGIE_*"
        found = item.get("input")
        lines.append(f"{variable}: {item['msg']} (found {found!r})")
    return "; ".join(lines)


def load_settings(**overrides: object) -> Settings:
    """Read the settings once, turning a validation failure into one readable :class:`SettingsError`."""
    toml_file = os.environ.get("VIGIE_CONFIG")
    if toml_file and not Path(toml_file).is_file():
        raise SettingsError(f"VIGIE_CONFIG: expected a readable TOML file, found {toml_file!r}")
    try:
        return Settings(**overrides)  # type: ignore[arg-type]
    except ValidationError as exc:
        raise SettingsError(_describe(exc)) from None
