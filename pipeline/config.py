"""`roletrail.toml`: loaded with tomllib, validated with pydantic (unknown keys are errors)."""

from __future__ import annotations

import datetime as dt
import ipaddress
import tomllib
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from pipeline.storage import DEFAULT_DB, RoletrailError

DEFAULT_CONFIG = "roletrail.toml"


def _network(value: str, what: str) -> None:
    try:
        ipaddress.ip_network(value, strict=False)
    except ValueError as e:
        raise ValueError(f"{value!r} is not {what}: {e}") from None


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)


class Database(Strict):
    path: str = DEFAULT_DB
    # where quarantined objects are kept for inspection; default: <database>.quarantine/
    quarantine_dir: str | None = None


class Source(Strict):
    uri: str | None = None
    # a scheduled run lists only the day prefixes of the last N days (CloudTrail delivers
    # within about 15 minutes, so 2 covers midnight and late deliveries); 0 = list everything
    lookback_days: int = Field(default=2, ge=0, le=3650)


class Network(Strict):
    known_cidrs: list[str] = []

    @field_validator("known_cidrs")
    @classmethod
    def _cidrs(cls, v: list[str]) -> list[str]:
        for c in v:
            _network(c, "a CIDR")
        return v


class SourceIdentity(Strict):
    # role ARN glob -> expected sourceIdentity glob ("*" = any non-empty value)
    required: dict[str, str] = {}


class Suppression(Strict):
    detector: str
    reason: str = Field(min_length=3)
    expires: dt.date
    role_arn: str | None = None  # glob
    account: str | None = None
    source_ip: str | None = None  # an address or CIDR
    session_name: str | None = None  # glob

    @field_validator("source_ip")
    @classmethod
    def _ip(cls, v):
        if v is not None:
            _network(v, "an address or CIDR")
        return v


class Slack(Strict):
    webhook_url_env: str = "ROLETRAIL_SLACK_WEBHOOK"
    max_alerts_per_message: int = Field(default=20, ge=1, le=45)
    timeout_seconds: float = Field(default=10, gt=0, le=120)


class Email(Strict):
    smtp_host: str
    smtp_port: int = Field(default=587, ge=1, le=65535)
    starttls: bool = True
    ssl: bool = False
    from_: str = Field(alias="from")
    to: list[str] = Field(min_length=1)
    username_env: str | None = None
    password_env: str | None = None
    timeout_seconds: float = Field(default=30, gt=0, le=300)
    max_alerts_per_message: int = Field(default=100, ge=1, le=1000)


class Notify(Strict):
    slack: Slack | None = None
    email: Email | None = None
    max_attempts: int = Field(default=20, ge=1, le=1000)


class Config(Strict):
    database: Database = Database()
    source: Source = Source()
    network: Network = Network()
    source_identity: SourceIdentity = SourceIdentity()
    detectors: dict[str, dict[str, Any]] = {}
    suppressions: list[Suppression] = []
    notify: Notify = Notify()

    path: Path | None = Field(default=None, exclude=True)


def load(path: str | Path | None) -> Config:
    """Load the config at `path`; without one, `./roletrail.toml` if present, else defaults."""
    if path is None:
        if not Path(DEFAULT_CONFIG).exists():
            return Config()
        path = DEFAULT_CONFIG
    path = Path(path)
    try:
        data = tomllib.loads(path.read_text())
    except FileNotFoundError:
        raise RoletrailError(f"config file {path} not found") from None
    except tomllib.TOMLDecodeError as e:
        raise RoletrailError(f"config file {path} is not valid TOML: {e}") from None
    try:
        cfg = Config.model_validate(data)
    except ValidationError as e:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in err['loc'])}: {err['msg']}" for err in e.errors(include_url=False)
        )
        raise RoletrailError(f"config file {path}: {problems}") from None
    cfg.path = path
    return cfg


def db_path(cli_value: str | None, cfg: Config) -> str:
    return cli_value or cfg.database.path


def quarantine_dir(cfg: Config, db: str) -> Path:
    if cfg.database.quarantine_dir:
        return Path(cfg.database.quarantine_dir)
    return Path(f"{db}.quarantine") if db != ":memory:" else Path("roletrail.quarantine")
