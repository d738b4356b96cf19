"""AWS services and long-term-key users: EC2 instance profiles, Lambda cold starts, EventBridge, AWS Config, IAM users.

Each actor is a function of the organization, a day and an output list; ``_Org.day`` calls them in a fixed order."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from .catalog import _CONFIG_ROLE, _count, _Who, _Workload
from .common import UA_BOTO3, UA_LAMBDA, UA_SSM_AGENT
from .identities import iam_user

if TYPE_CHECKING:
    from .org import _Org


def instance(org: _Org, out: list[dict], d: int, day0: datetime, w: _Workload) -> None:
    """An EC2 instance: credentials from ec2.amazonaws.com, SSM agent check-ins, some app calls."""
    rng = org._rng(d, "instance:" + w.name)
    ssm = {"instanceId": w.name, "agentVersion": "3.3.131.0", "platformType": "Linux"}
    who = _Who({}, w.account, w.region, w.nat_ip, UA_SSM_AGENT)
    for slot in range(96):  # 15-minute slots
        t = day0 + timedelta(minutes=15 * slot, seconds=rng.randint(0, 59))
        if slot % 24 == 0:
            session = org._service_session(
                out, rng, t, "ec2.amazonaws.com", w.account, w.region, w.role, w.name
            )
            who = who._replace(identity=session)
        t += timedelta(seconds=rng.randint(1, 120))
        org._call(out, rng, t, who, "ssm.amazonaws.com", "UpdateInstanceInformation", ssm, False)
        if rng.random() < 0.35:
            org._calls(out, rng, t, who._replace(ua=UA_BOTO3), "instance", rng.randint(1, 3), gap=(5, 200))


def function(org: _Org, out: list[dict], d: int, day0: datetime, w: _Workload) -> None:
    """A Lambda function: each cold start lambda.amazonaws.com assumes its execution role."""
    rng = org._rng(d, "function:" + w.name)
    for offset in sorted(rng.randint(0, 86399) for _ in range(_count(rng, 12))):
        t = day0 + timedelta(seconds=offset)
        session = org._service_session(
            out, rng, t, "lambda.amazonaws.com", w.account, w.region, w.role, w.name
        )
        who = _Who(session, w.account, w.region, w.nat_ip, UA_LAMBDA)
        t += timedelta(seconds=rng.randint(1, 3))
        org._call(
            out,
            rng,
            t,
            who,
            "logs.amazonaws.com",
            "CreateLogStream",
            {"logGroupName": f"/aws/lambda/{w.name}"},
            False,
        )
        org._calls(out, rng, t, who, "lambda", rng.randint(1, 5), gap=(1, 600))


def eventbridge(org: _Org, out: list[dict], d: int, day0: datetime) -> None:
    """An EventBridge schedule: events.amazonaws.com assumes a role to start a state machine."""
    rng = org._rng(d, "eventbridge")
    account = org.acc["shared-services"]
    machine = f"arn:aws:states:{org.home}:{account}:stateMachine:nightly-report"
    n = max(1, round(48 * org.scale))
    for slot in range(n):
        t = day0 + timedelta(seconds=slot * 86400 // n + rng.randint(0, 20))
        session = org._service_session(
            out,
            rng,
            t,
            "events.amazonaws.com",
            account,
            org.home,
            "EventBridgeInvokeStepFunctionsRole",
            f"{rng.getrandbits(128):032x}",
        )
        session["invokedBy"] = "events.amazonaws.com"
        who = _Who(session, account, org.home, "events.amazonaws.com", "events.amazonaws.com")
        org._call(
            out,
            rng,
            t + timedelta(seconds=1),
            who,
            "states.amazonaws.com",
            "StartExecution",
            {"stateMachineArn": machine},
            False,
        )


def aws_config(org: _Org, out: list[dict], d: int, day0: datetime, account_name: str, region: str) -> None:
    """AWS Config's service-linked role describing resources, in every account and region."""
    rng = org._rng(d, f"config:{account_name}:{region}")
    account = org.acc[account_name]
    who = _Who({}, account, region, "config.amazonaws.com", "config.amazonaws.com")
    for hour in range(24):
        t = day0 + timedelta(hours=hour, seconds=rng.randint(0, 300))
        if hour % 4 == 0:
            session = org._service_session(
                out, rng, t, "config.amazonaws.com", account, region, _CONFIG_ROLE, "AWSConfig-Describe"
            )
            session["invokedBy"] = "config.amazonaws.com"
            who = who._replace(identity=session)
        org._calls(out, rng, t, who, "config", _count(rng, 4 * org.scale), gap=(1, 600))


def long_term_user(org: _Org, out: list[dict], d: int, day0: datetime, weekday: bool, user: tuple) -> None:
    """Long-term-key IAM users: Terraform from the office on weekdays, a nightly backup job."""
    account, name, key, profile, ua = user
    rng = org._rng(d, "iam:" + name)
    if profile == "terraform":
        if not weekday:
            return
        t = day0 + timedelta(hours=rng.randint(9, 17), seconds=rng.randint(0, 3599))
        who = _Who(
            iam_user(account, name, key), account, org.home, f"198.51.100.{200 + rng.randrange(10)}", ua
        )
    else:
        t = day0 + timedelta(hours=2, seconds=rng.randint(0, 600))
        who = _Who(iam_user(account, name, key), account, org.other, org.nat("data", org.other), ua)
    org._calls(out, rng, t, who, profile, _count(rng, 10 * org.scale), gap=(1, 30))
