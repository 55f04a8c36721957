"""Configuration: `config/crosspost.toml` plus `CROSSPOST_*` environment overrides.

Read once at start-up by the composition root (bootstrap) and validated; every bad field is named
in one readable message. Nothing else in the package reads the environment.
"""

from __future__ import annotations

import os
import re
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from crosspost.domain.metrics import DEFAULT_LADDER_TEXT, Ladder, parse_ladder
from crosspost.errors import ConfigError

CONFIG_ENV = "CROSSPOST_CONFIG"
"""Environment variable naming the configuration file."""

DEFAULT_CONFIG_PATH = Path("config") / "crosspost.toml"
"""Where the configuration file is looked for, relative to the working directory."""

ENV_OVERRIDES: dict[str, tuple[str, str]] = {
    "CROSSPOST_DATABASE_URL": ("database", "url"),
    "CROSSPOST_REDIS_URL": ("redis", "url"),
    "CROSSPOST_TIMEZONE": ("display", "timezone"),
}
"""Environment variables that override one field of the file each."""


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid")


class DatabaseSettings(_Section):
    url: str = ""

    @field_validator("url")
    @classmethod
    def _parsable(cls, value: str) -> str:
        if value:
            from sqlalchemy.engine import make_url
            from sqlalchemy.exc import ArgumentError

            try:
                backend = make_url(value).get_backend_name()
            except ArgumentError:
                raise ValueError(
                    "not a valid SQLAlchemy URL (e.g. sqlite:///path/crosspost.db or "
                    "postgresql+psycopg://user@host/db)"
                ) from None
            if backend not in ("sqlite", "postgresql"):
                # Another dialect would fail later, inside SQLAlchemy, on a missing driver.
                raise ValueError(f"{backend!r} is not supported: use SQLite or PostgreSQL")
        return value


class RedisSettings(_Section):
    url: str = ""


class DisplaySettings(_Section):
    timezone: str = "Asia/Ho_Chi_Minh"

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError, OSError):  # "Asia" is a folder: OSError
            raise ValueError(f"unknown time zone {value!r} (use an IANA name)") from None
        return value


class IngestSettings(_Section):
    timeout_seconds: float = Field(default=20.0, gt=0, le=600)
    max_bytes: int = Field(default=10_000_000, gt=0)
    summary_max_chars: int = Field(default=1_000, ge=50)
    stale_after_hours: float = Field(default=48.0, gt=0)
    interval_minutes: int = Field(default=5, ge=1)
    user_agent: str = "crosspost/0.1 (government e-portal dissemination)"
    tracking_params: list[str] = Field(
        default_factory=lambda: ["utm_*", "fbclid", "gclid", "dclid", "msclkid"]
    )


class MetricsSettings(_Section):
    """Engagement collection: the polling ladder, the round size, what Facebook is asked for."""

    ladder: list[str] = Field(default_factory=lambda: list(DEFAULT_LADDER_TEXT))
    batch_per_channel: int = Field(default=5_000, ge=1, le=100_000)
    defer_minutes: float = Field(default=15.0, gt=0, le=24 * 60)
    facebook_fields: list[str] = Field(
        default_factory=lambda: ["reactions", "comments", "shares"], min_length=1
    )

    @field_validator("ladder")
    @classmethod
    def _valid_ladder(cls, value: list[str]) -> list[str]:
        parse_ladder(value)  # its ValueError names the bad step
        return value

    @field_validator("facebook_fields")
    @classmethod
    def _field_names(cls, value: list[str]) -> list[str]:
        for name in value:
            # Names go into Graph URLs and a 32-character column: plain names only.
            if not re.fullmatch(r"[a-z][a-z0-9_]{0,31}", name):
                raise ValueError(f"{name!r} is not a Graph field name like 'reactions'")
        return value

    @property
    def steps(self) -> Ladder:
        """The ladder, parsed."""
        return parse_ladder(self.ladder)


class ChannelSettings(_Section):
    """Per-channel settings kept in the file rather than the database."""

    auto_schedule: list[str] = Field(default_factory=list)


class Settings(_Section):
    """The validated configuration, plus where it came from."""

    database: DatabaseSettings = Field(default_factory=DatabaseSettings)
    redis: RedisSettings = Field(default_factory=RedisSettings)
    display: DisplaySettings = Field(default_factory=DisplaySettings)
    ingest: IngestSettings = Field(default_factory=IngestSettings)
    metrics: MetricsSettings = Field(default_factory=MetricsSettings)
    channels: dict[str, ChannelSettings] = Field(default_factory=dict)
    config_path: Path = Field(default=DEFAULT_CONFIG_PATH, exclude=True)

    @property
    def workspace(self) -> Path:
        """The folder holding the configuration file; relative paths are read from here."""
        return self.config_path.resolve().parent

    @property
    def database_url(self) -> str:
        """The database URL; by default a SQLite file next to the configuration."""
        if self.database.url:
            return self.database.url
        return f"sqlite:///{self.workspace / 'crosspost.db'}"

    @property
    def zone(self) -> ZoneInfo:
        """The display time zone."""
        return ZoneInfo(self.display.timezone)


def mask_url(url: str) -> str:
    """A database or Redis URL with any password replaced, fit for messages and logs."""
    return re.sub(r"(://[^:/@]*:)[^@]*@", r"\1***@", url)


def config_path_from(explicit: Path | None, environ: Mapping[str, str]) -> Path:
    """The configuration file: --config, else $CROSSPOST_CONFIG, else ./config/crosspost.toml."""
    if explicit is not None:
        return explicit
    if environ.get(CONFIG_ENV):
        return Path(environ[CONFIG_ENV])
    return DEFAULT_CONFIG_PATH


def load_settings(path: Path, environ: Mapping[str, str] | None = None) -> Settings:
    """Read and validate the configuration file at `path` with environment overrides.

    A missing file is not an error (defaults apply, as before `crosspost init`); a malformed one,
    or any invalid field, raises ConfigError naming the file and each bad field.
    """
    env = os.environ if environ is None else environ
    data: dict[str, Any] = {}
    if path.is_file():
        try:
            data = tomllib.loads(path.read_text(encoding="utf-8"))
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError(f"{path}: not valid TOML: {exc}") from None
        except (OSError, UnicodeDecodeError) as exc:
            raise ConfigError(f"{path}: cannot read: {exc}") from None
    for var, (section, key) in ENV_OVERRIDES.items():
        if env.get(var):
            table = data.setdefault(section, {})
            if not isinstance(table, dict):
                raise ConfigError(f"{path}: [{section}] must be a table")
            table[key] = env[var]
    try:
        return Settings.model_validate({**data, "config_path": path})
    except ValidationError as exc:
        raise ConfigError(_describe(path, exc)) from None


def _describe(path: Path, exc: ValidationError) -> str:
    problems = []
    for err in exc.errors():
        where = ".".join(str(part) for part in err["loc"])
        message = err["msg"].removeprefix("Value error, ")
        if err["type"] == "extra_forbidden":
            message = "unknown setting"
        problems.append(f"{where}: {message}")
    return f"{path}: invalid configuration: " + "; ".join(problems)
