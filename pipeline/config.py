"""`roletrail.toml`: loaded with tomllib, validated with pydantic (unknown keys are errors)."""

from __future__ import annotations

import datetime as dt
import ipaddress
import tomllib
from functools import cache
from pathlib import Path

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    create_model,
    field_validator,
    model_validator,
)

from pipeline.errors import RoletrailError
from pipeline.expectations import Organization, RoleExpectation
from pipeline.store import DEFAULT_DB

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
    # a suppression with no matcher would mute the whole detector: only when said outright
    all: bool = False

    @model_validator(mode="after")
    def _matches_something(self):
        matchers = (self.role_arn, self.account, self.source_ip, self.session_name)
        if self.all and any(m is not None for m in matchers):
            raise ValueError(
                "all = true mutes the whole detector: it takes no role_arn/account/source_ip/session_name"
            )
        if not self.all and all(m is None for m in matchers):
            raise ValueError(
                "a suppression needs role_arn, account, source_ip or session_name "
                "(or all = true to mute the whole detector, with its reason)"
            )
        return self

    @field_validator("detector")
    @classmethod
    def _known(cls, v: str) -> str:
        from detectors.registry import all_detectors

        ids = sorted(d.id for d in all_detectors())
        if v not in ids:
            raise ValueError(f"unknown detector {v!r} (known: {', '.join(ids)})")
        return v

    @field_validator("source_ip")
    @classmethod
    def _ip(cls, v):
        if v is not None:
            _network(v, "an address or CIDR")
        return v


class Spark(Strict):
    """[spark]: where `lake build` and `detect --engine spark` run (spark-submit's master, or local)."""

    master: str = "local[*]"
    conf: dict[str, str] = {}  # Spark settings, e.g. {"spark.driver.memory" = "2g"}


class Core(Strict):
    """The sections that belong to no part; the parts' sections are added by config_model()."""

    database: Database = Database()
    network: Network = Network()
    source_identity: SourceIdentity = SourceIdentity()
    organization: Organization = Organization()
    roles: list[RoleExpectation] = []
    suppressions: list[Suppression] = []
    spark: Spark = Spark()

    path: Path | None = Field(default=None, exclude=True)


class SourceSection(Strict):
    uri: str | None = None
    # a scheduled run lists only the day prefixes of the last N days (CloudTrail delivers
    # within about 15 minutes, so 2 covers midnight and late deliveries); 0 = list everything
    lookback_days: int = Field(default=2, ge=0, le=3650)


class NotifySection(Strict):
    max_attempts: int = Field(default=20, ge=1, le=1000)


def _section(name: str, base: type[BaseModel], parts: dict[str, type[BaseModel]]) -> type[BaseModel]:
    """A section whose sub-tables are the registered parts' own models, each optional."""
    fields = {key: (model | None, None) for key, model in parts.items()}
    return create_model(name, __base__=base, **fields)


@cache
def config_model() -> type[BaseModel]:
    """`roletrail.toml` as one pydantic model, assembled from the registered parts: each
    detector's parameters, each destination's [notify.<name>], each source's [source.<scheme>]."""
    from detectors.registry import all_detectors
    from pipeline.ingest.options import IngestOptions
    from pipeline.notify import config_models as notifier_models
    from pipeline.sources import option_models as source_models

    detectors = _section("Detectors", Strict, {d.id: d.params_model() for d in all_detectors()})
    notify = _section("Notify", NotifySection, notifier_models())
    source = _section("Source", SourceSection, source_models())
    return create_model(
        "Config",
        __base__=Core,
        source=(source, source()),
        ingest=(IngestOptions, IngestOptions()),
        detectors=(detectors, detectors()),
        notify=(notify, notify()),
    )


def __getattr__(name: str):
    # `Config` is built from the registries on first use, not at import
    if name == "Config":
        return config_model()
    raise AttributeError(name)


def load(path: str | Path | None):
    """Load the config at `path`; without one, `./roletrail.toml` if present, else defaults."""
    if path is None:
        if not Path(DEFAULT_CONFIG).exists():
            return config_model()()
        path = DEFAULT_CONFIG
    path = Path(path)
    try:
        data = tomllib.loads(path.read_text())
    except FileNotFoundError:
        raise RoletrailError(f"config file {path} not found") from None
    except tomllib.TOMLDecodeError as e:
        raise RoletrailError(f"config file {path} is not valid TOML: {e}") from None
    try:
        cfg = config_model().model_validate(data)
    except ValidationError as e:
        raise RoletrailError(f"config file {path}: {describe(e)}") from None
    cfg.path = path
    return cfg


def describe(e: ValidationError) -> str:
    """A validation error as one line: where, what, and the value that was given."""
    problems = []
    for err in e.errors(include_url=False):
        where = ".".join(str(p) for p in err["loc"])
        if err["type"] == "extra_forbidden":
            problems.append(f"{where}: unknown key")
            continue
        given = err.get("input")
        shown = f" (got {given!r})" if isinstance(given, str | int | float | bool) else ""
        problems.append(f"{where}: {err['msg']}{shown}")
    return "; ".join(problems)


def db_path(cli_value: str | None, cfg) -> str:
    return cli_value or cfg.database.path


def quarantine_dir(cfg, db: str) -> Path:
    if cfg.database.quarantine_dir:
        return Path(cfg.database.quarantine_dir)
    return Path(f"{db}.quarantine") if db != ":memory:" else Path("roletrail.quarantine")
