"""The people and pipelines that cross accounts: SSO users hopping into roles, CI deploys, the data exporter.

Each actor is a function of the organization, a day and an output list; ``_Org.day`` calls them in a fixed order."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from .catalog import _HOP_TARGETS, _PERMISSION_SETS, _REPOS, _count, _Person, _Who
from .common import UA_BOTO3, UA_GITHUB, _uuid
from .federated import assume_role_with_saml, assume_role_with_web_identity
from .records import assume_role

if TYPE_CHECKING:
    from .org import _Org


def person(org: _Org, out: list[dict], d: int, day0: datetime, weekday: bool, p: _Person) -> None:
    """SSO login into the security account, then a few hops into other accounts' roles."""
    rng = org._rng(d, "person:" + p.name)
    if not weekday and rng.random() > 0.05:
        return
    login = day0 + timedelta(hours=p.work_start, minutes=rng.randint(-20, 70), seconds=rng.randint(0, 59))
    ip = org._ipv6(rng, p.v6_subnet) if rng.random() < 0.35 else p.ipv4
    permission_set = _PERMISSION_SETS[p.kind]
    sso = assume_role_with_saml(
        login,
        org.spec.sso_role_arn(permission_set),
        org.saml_provider,
        p.email,
        source_identity=p.email,
        duration_seconds=28800,
        source_ip=ip,
        region=org.home,
        rng=rng,
    )
    out += sso.records
    home = _Who(sso.session, org.acc["security"], p.region, ip, p.ua)
    t = org._calls(out, rng, login, home, "audit", rng.randint(0, 3))
    targets = _HOP_TARGETS[p.kind]
    hops = rng.randint(1, 4) if weekday else 1
    # hop times spread over the working day, within the 8-hour SSO session
    for offset in sorted(rng.randint(300, 8 * 3600 - 900) for _ in range(hops)):
        t = max(t, login + timedelta(seconds=offset))
        account_name, role, profile = rng.choice(targets)
        region = p.region if rng.random() < 0.8 else (org.other if p.region == org.home else org.home)
        if org.spec.failure_rate and rng.random() < org.spec.failure_rate:
            denied = assume_role(
                t,
                sso.session,
                org.spec.role_arn(account_name, role + "Admin"),
                p.session_name,
                source_ip=ip,
                user_agent=p.ua,
                region=region,
                error_code="AccessDenied",
                rng=rng,
            )
            out += denied.records
            t += timedelta(seconds=rng.randint(20, 90))
        hop = assume_role(
            t,
            sso.session,
            org.spec.role_arn(account_name, role),
            p.session_name,
            source_ip=ip,
            user_agent=p.ua,
            region=region,
            rng=rng,
        )
        out += hop.records
        who = _Who(hop.session, org.acc[account_name], region, ip, p.ua)
        t = org._calls(out, rng, t, who, profile, rng.randint(2, 8), gap=(5, 240))


def ci(org: _Org, out: list[dict], d: int, day0: datetime, weekday: bool) -> None:
    """GitHub Actions deploys: OIDC into GitHubActionsCI, then chained hops into PlatformDeploy."""
    if not weekday:
        return
    rng = org._rng(d, "ci")
    ci_role = org.spec.role_arn("shared-services", "GitHubActionsCI")
    times = sorted(rng.randint(7 * 3600, 20 * 3600) for _ in range(_count(rng, 6 * org.scale)))
    for j, offset in enumerate(times):
        run = 4000 + d * 100 + j
        t = day0 + timedelta(seconds=offset)
        ip = f"203.0.113.{10 + rng.randrange(40)}"
        subject = f"repo:example-org/{rng.choice(_REPOS)}:ref:refs/heads/main"
        web = assume_role_with_web_identity(
            t,
            ci_role,
            org.oidc_provider,
            subject,
            source_identity="ci@example.com",
            source_ip=ip,
            region=org.home,
            rng=rng,
        )
        out += web.records
        who = _Who(web.session, org.acc["shared-services"], org.home, ip, UA_GITHUB)
        t = org._calls(out, rng, t, who, "ci-home", rng.randint(1, 3), gap=(2, 20))
        stages = [("staging", org.home)]
        if rng.random() < 0.7:
            stages.append(("prod", org.home))
            if rng.random() < 0.4:
                stages.append(("prod", org.other))
        for account_name, region in stages:
            t += timedelta(seconds=rng.randint(20, 180))
            hop = assume_role(
                t,
                web.session,
                org.spec.role_arn(account_name, "PlatformDeploy"),
                f"deploy-{run}",
                source_identity="ci@example.com",
                source_ip=ip,
                user_agent=UA_GITHUB,
                region=org.home,
                rng=rng,
            )
            out += hop.records
            who = _Who(hop.session, org.acc[account_name], region, ip, UA_GITHUB)
            t = org._calls(out, rng, t, who, "ci", rng.randint(3, 8), gap=(2, 45))


def exporter(org: _Org, out: list[dict], d: int, day0: datetime) -> None:
    """The shared-services exporter instance hops into the data account's ExportRole every hour."""
    rng = org._rng(d, "exporter")
    w = org.exporter
    export_role = org.spec.role_arn("data", "ExportRole")
    session: dict = {}
    for hour in range(24):
        if hour % 6 == 0:  # instance-profile credentials are refreshed every few hours
            t0 = day0 + timedelta(hours=hour, seconds=rng.randint(0, 120))
            session = org._service_session(
                out, rng, t0, "ec2.amazonaws.com", w.account, w.region, w.role, w.name
            )
        for _ in range(max(1, _count(rng, org.scale))):
            t = day0 + timedelta(hours=hour, minutes=5, seconds=rng.randint(0, 3000))
            hop = assume_role(
                t,
                session,
                export_role,
                f"export-{_uuid(rng)}",
                source_identity="exporter-svc",
                source_ip=w.nat_ip,
                user_agent=UA_BOTO3,
                region=w.region,
                rng=rng,
            )
            out += hop.records
            who = _Who(hop.session, org.acc["data"], org.other, w.nat_ip, UA_BOTO3)
            org._calls(out, rng, t, who, "export", rng.randint(3, 7), gap=(1, 30))
