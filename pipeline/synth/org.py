"""The organization: ``OrgSpec`` (what to generate) and ``_Org``, its population and a day of
its activity; the actors themselves are in people.py and services.py."""

from __future__ import annotations

import hashlib
import ipaddress
import random
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from . import people, services
from .catalog import _BUCKETS, _PROFILES, _Person, _Who, _Workload
from .common import (
    _GLOBAL_SOURCES,
    DEFAULT_ACCOUNTS,
    DEFAULT_ORG_ID,
    DEFAULT_PEOPLE,
    DEFAULT_START,
    GITHUB_OIDC_HOST,
    UA_BOTO3,
    UA_CLI_LINUX,
    UA_CLI_MAC,
    UA_TERRAFORM,
    _access_key,
    _utc,
)
from .identities import aws_service_identity
from .records import api_call, assume_role


@dataclass
class OrgSpec:
    """A synthetic organization and how much benign traffic it makes.

    ``scale`` multiplies all activity (people, deploys, instances, functions, background calls);
    ``layout`` is "org" (organization trail keys, with the org id) or "standard";
    ``records_per_file`` packs records into files of that many records per account, region and
    day instead of CloudTrail's 5-minute windows. ``failure_rate`` is the share of people's
    cross-account hops that are first denied (AccessDenied) and retried; 0 keeps the baseline clean.
    ``start`` is taken as UTC and rounded down to midnight; the logs cover [start, start + days).
    """

    org_id: str = DEFAULT_ORG_ID
    accounts: dict[str, str] = field(default_factory=lambda: dict(DEFAULT_ACCOUNTS))
    regions: tuple[str, ...] = ("us-east-1", "eu-west-1")
    start: datetime = DEFAULT_START
    days: int = 28
    seed: int = 1
    scale: float = 1.0
    layout: str = "org"
    records_per_file: int | None = None
    people: tuple[str, ...] = DEFAULT_PEOPLE
    email_domain: str = "example.com"
    failure_rate: float = 0.0

    def __post_init__(self) -> None:
        if self.layout not in ("org", "standard"):
            raise ValueError(f"layout must be 'org' or 'standard', not {self.layout!r}")
        missing = set(DEFAULT_ACCOUNTS) - set(self.accounts)
        if missing:
            raise ValueError(f"accounts must name {sorted(DEFAULT_ACCOUNTS)}; missing {sorted(missing)}")
        if not self.regions:
            raise ValueError("at least one region")
        if self.records_per_file is not None and self.records_per_file < 1:
            raise ValueError("records_per_file must be positive")
        self.start = _utc(self.start).replace(hour=0, minute=0, second=0, microsecond=0)

    @property
    def end(self) -> datetime:
        """Exclusive end of the generated period."""
        return self.start + timedelta(days=self.days)

    def account(self, name: str) -> str:
        return self.accounts[name]

    def role_arn(self, account_name: str, role_name: str) -> str:
        """ARN of a role of the organization, e.g. role_arn("prod", "PlatformDeploy")."""
        return f"arn:aws:iam::{self.accounts[account_name]}:role/{role_name}"

    def sso_role_arn(self, permission_set: str) -> str:
        """ARN of the IAM Identity Center role for a permission set in the security account."""
        suffix = hashlib.sha256(f"{self.seed}|{permission_set}".encode()).hexdigest()[:16]
        return (
            f"arn:aws:iam::{self.accounts['security']}:role/aws-reserved/sso.amazonaws.com/"
            f"AWSReservedSSO_{permission_set}_{suffix}"
        )


class _Org:
    """The organization's actors and their daily behaviour."""

    def __init__(self, spec: OrgSpec) -> None:
        self.spec = spec
        self.scale = spec.scale
        self.acc = acc = spec.accounts
        self.home = spec.regions[0]
        self.other = spec.regions[1] if len(spec.regions) > 1 else spec.regions[0]
        r = random.Random(f"{spec.seed}|population")

        n_people = max(2, round(len(spec.people) * spec.scale))
        names = list(spec.people) + [f"user{i:03d}" for i in range(len(spec.people), n_people)]
        kinds = ("platform", "platform", "audit", "data")
        self.people = []
        for i, name in enumerate(names[:n_people]):
            email = f"{name}@{spec.email_domain}"
            eu = i % 3 == 2  # a third of the people work from Europe, the others from US east
            self.people.append(
                _Person(
                    name=name,
                    email=email,
                    kind=kinds[i % len(kinds)],
                    region=self.other if eu else self.home,
                    work_start=8 if eu else 13,
                    ipv4=f"198.51.100.{10 + i % 240}",
                    v6_subnet=0x10 + i,
                    session_name=email if i % 2 == 0 else name,
                    ua=UA_CLI_MAC if i % 4 != 3 else UA_CLI_LINUX,
                )
            )
        # EC2 instances whose instance-profile role ec2.amazonaws.com assumes.
        base_instances = [
            ("prod", self.home, "AppServerRole"),
            ("prod", self.home, "AppServerRole"),
            ("prod", self.other, "AppServerRole"),
            ("staging", self.home, "AppServerRole"),
            ("data", self.other, "EtlWorkerRole"),
            ("shared-services", self.home, "BuildRunnerRole"),
        ]
        self.instances = []
        for i in range(max(len(base_instances), round(len(base_instances) * spec.scale))):
            a, reg, role = base_instances[i % len(base_instances)]
            iid = f"i-0{r.getrandbits(64):016x}"
            self.instances.append(_Workload(acc[a], reg, role, iid, self.nat(a, reg)))
        iid = f"i-0{r.getrandbits(64):016x}"
        self.exporter = _Workload(
            acc["shared-services"], self.home, "exporter", iid, self.nat("shared-services", self.home)
        )
        base_functions = [
            ("prod", self.home, "OrderProcessorLambdaRole", "order-processor"),
            ("prod", self.other, "ThumbnailerLambdaRole", "thumbnailer"),
            ("data", self.other, "EtlTriggerLambdaRole", "etl-trigger"),
            ("security", self.home, "GuardDutyForwarderRole", "guardduty-forwarder"),
            ("shared-services", self.home, "SlackNotifierRole", "slack-notifier"),
        ]
        self.functions = []
        for i in range(max(len(base_functions), round(len(base_functions) * spec.scale))):
            a, reg, role, fn = base_functions[i % len(base_functions)]
            name = fn if i < len(base_functions) else f"{fn}-{i // len(base_functions)}"
            self.functions.append(_Workload(acc[a], reg, role, name, self.nat(a, reg)))
        self.oidc_provider = f"arn:aws:iam::{acc['shared-services']}:oidc-provider/{GITHUB_OIDC_HOST}"
        self.saml_provider = (
            f"arn:aws:iam::{acc['security']}:saml-provider/AWSSSO_{spec.seed:04x}a1b2c3d4_DO_NOT_DELETE"
        )
        self.iam_users = [
            (acc["management"], "terraform-legacy", _access_key(r, "AKIA"), "terraform", UA_TERRAFORM),
            (acc["data"], "backup-bot", _access_key(r, "AKIA"), "backup", UA_BOTO3),
        ]

    # -- helpers --------------------------------------------------------------------------

    def nat(self, account_name: str, region: str) -> str:
        """The NAT gateway address of an account's VPC in a region (inside CI_EGRESS_CIDR)."""
        index = list(self.acc).index(account_name) * 8 + self.spec.regions.index(region) * 3
        return f"203.0.113.{128 + index % 120}"

    def _rng(self, day: int, actor: str) -> random.Random:
        # one stream per actor and day: a day can be generated without the days before it
        return random.Random(f"{self.spec.seed}|{day}|{actor}")

    def _ipv6(self, rng: random.Random, subnet: int) -> str:
        groups = [rng.getrandbits(16) | 0x100 for _ in range(4)]
        return str(ipaddress.IPv6Address(f"2001:db8:1234:{subnet:x}:" + ":".join(f"{g:x}" for g in groups)))

    def _params(self, rng: random.Random, factory: Any, region: str) -> dict | None:
        if not isinstance(factory, str):
            return factory(rng)
        kind = factory[3:]  # "s3:<bucket kind>"
        bucket = _BUCKETS[kind]
        p: dict[str, Any] = {"bucketName": bucket, "Host": f"{bucket}.s3.{region}.amazonaws.com"}
        if kind == "lake-list":
            p["prefix"] = f"events/dt={rng.randrange(1, 29):02d}/"
            p["list-type"] = "2"
        elif kind != "config-bucket":
            p["key"] = f"{kind}/{rng.getrandbits(48):012x}.parquet"
        return p

    def _call(
        self,
        out: list[dict],
        rng: random.Random,
        t: datetime,
        who: _Who,
        source: str,
        name: str,
        params: dict | None,
        read_only: bool,
    ) -> None:
        region = "us-east-1" if source in _GLOBAL_SOURCES else who.region
        out.append(
            api_call(
                t, who.identity, source, name, who.account, region, who.ip, who.ua, params, read_only, rng=rng
            )
        )

    def _calls(
        self,
        out: list[dict],
        rng: random.Random,
        t: datetime,
        who: _Who,
        profile: str,
        n: int,
        gap: tuple[int, int] = (3, 90),
    ) -> datetime:
        """n calls from a profile, spaced by a random gap; returns the time of the last one."""
        catalog = _PROFILES[profile]
        for _ in range(n):
            t = t + timedelta(seconds=rng.randint(*gap))
            source, name, read_only, factory = rng.choice(catalog)
            self._call(out, rng, t, who, source, name, self._params(rng, factory, who.region), read_only)
        return t

    def _service_session(
        self,
        out: list[dict],
        rng: random.Random,
        t: datetime,
        service: str,
        account: str,
        region: str,
        role: str,
        session_name: str,
    ) -> dict:
        """The service assumes a role of its account; returns the session identity."""
        got = assume_role(
            t,
            aws_service_identity(service),
            f"arn:aws:iam::{account}:role/{role}",
            session_name,
            region=region,
            rng=rng,
        )
        out += got.records
        return got.session

    # -- actors ---------------------------------------------------------------------------

    def day(self, d: int) -> list[dict]:
        """The records of the activity that starts on day d (some of it may run past midnight)."""
        day0 = self.spec.start + timedelta(days=d)
        weekday = day0.weekday() < 5
        out: list[dict] = []
        for p in self.people:
            people.person(self, out, d, day0, weekday, p)
        people.ci(self, out, d, day0, weekday)
        people.exporter(self, out, d, day0)
        for w in self.instances:
            services.instance(self, out, d, day0, w)
        for w in self.functions:
            services.function(self, out, d, day0, w)
        services.eventbridge(self, out, d, day0)
        for name in self.spec.accounts:
            for region in self.spec.regions:
                services.aws_config(self, out, d, day0, name, region)
        for user in self.iam_users:
            services.long_term_user(self, out, d, day0, weekday, user)
        return out


# --------------------------------------------------------------------------- files and writers
