"""What the organization's actors are made of: people and workloads, the API calls each kind
makes (profiles), the buckets they touch and the roles people hop into."""

from __future__ import annotations

import random
from dataclasses import dataclass
from typing import Any, NamedTuple


@dataclass
class _Person:
    name: str
    email: str
    kind: str  # platform | audit | data
    region: str
    work_start: int  # UTC hour
    ipv4: str
    v6_subnet: int
    session_name: str
    ua: str


@dataclass
class _Workload:
    """An EC2 instance or a Lambda function whose role AWS assumes for it."""

    account: str
    region: str
    role: str
    name: str  # instance id or function name
    nat_ip: str


# Per-profile API catalog: (eventSource, eventName, readOnly, requestParameters factory or None).
def _p_stack(rng: random.Random) -> dict:
    return {"stackName": rng.choice(("platform-api", "web-frontend", "network", "observability"))}


def _p_instances(rng: random.Random) -> dict:
    return {"instancesSet": {}, "filterSet": {}}


def _p_service(rng: random.Random) -> dict:
    return {"cluster": "main", "services": [rng.choice(("api", "web", "worker"))]}


def _p_param(rng: random.Random) -> dict:
    return {"name": f"/platform/{rng.choice(('api', 'web', 'worker'))}/config", "withDecryption": True}


def _p_secret(rng: random.Random) -> dict:
    return {"secretId": rng.choice(("prod/db-password", "prod/api-token", "shared/slack-webhook"))}


def _p_kms(rng: random.Random) -> dict:
    return {"encryptionAlgorithm": "SYMMETRIC_DEFAULT"}


def _p_role(rng: random.Random) -> dict:
    return {"roleName": rng.choice(("PlatformDeploy", "ReadOnlyAudit", "ExportRole", "GitHubActionsCI"))}


def _p_none(rng: random.Random) -> None:
    return None


_PROFILES: dict[str, list[tuple[str, str, bool, Any]]] = {
    "platform": [
        ("cloudformation.amazonaws.com", "DescribeStacks", True, _p_stack),
        ("cloudformation.amazonaws.com", "DescribeStackEvents", True, _p_stack),
        ("ec2.amazonaws.com", "DescribeInstances", True, _p_instances),
        ("ecs.amazonaws.com", "DescribeServices", True, _p_service),
        ("ecs.amazonaws.com", "UpdateService", False, _p_service),
        ("ssm.amazonaws.com", "GetParameter", True, _p_param),
        ("logs.amazonaws.com", "FilterLogEvents", True, _p_none),
        ("s3.amazonaws.com", "GetObject", True, "s3:artifacts"),
    ],
    "audit": [
        ("iam.amazonaws.com", "GetRole", True, _p_role),
        ("iam.amazonaws.com", "ListRoles", True, _p_none),
        ("config.amazonaws.com", "DescribeConfigRules", True, _p_none),
        ("securityhub.amazonaws.com", "GetFindings", True, _p_none),
        ("guardduty.amazonaws.com", "ListFindings", True, _p_none),
        ("cloudtrail.amazonaws.com", "LookupEvents", True, _p_none),
        ("s3.amazonaws.com", "ListBuckets", True, _p_none),
        ("organizations.amazonaws.com", "ListAccounts", True, _p_none),
    ],
    "data": [
        ("athena.amazonaws.com", "StartQueryExecution", False, _p_none),
        ("athena.amazonaws.com", "GetQueryExecution", True, _p_none),
        ("glue.amazonaws.com", "GetTable", True, _p_none),
        ("s3.amazonaws.com", "GetObject", True, "s3:lake"),
        ("s3.amazonaws.com", "ListObjects", True, "s3:lake-list"),
    ],
    "ci": [
        ("cloudformation.amazonaws.com", "DescribeStacks", True, _p_stack),
        ("cloudformation.amazonaws.com", "CreateChangeSet", False, _p_stack),
        ("cloudformation.amazonaws.com", "DescribeChangeSet", True, _p_stack),
        ("cloudformation.amazonaws.com", "ExecuteChangeSet", False, _p_stack),
        ("ecs.amazonaws.com", "RegisterTaskDefinition", False, _p_none),
        ("ecs.amazonaws.com", "UpdateService", False, _p_service),
        ("s3.amazonaws.com", "PutObject", False, "s3:artifacts"),
    ],
    "ci-home": [
        ("ecr.amazonaws.com", "GetAuthorizationToken", True, _p_none),
        ("s3.amazonaws.com", "PutObject", False, "s3:artifacts"),
        ("ecr.amazonaws.com", "InitiateLayerUpload", False, _p_none),
    ],
    "export": [
        ("athena.amazonaws.com", "StartQueryExecution", False, _p_none),
        ("athena.amazonaws.com", "GetQueryExecution", True, _p_none),
        ("s3.amazonaws.com", "GetObject", True, "s3:lake"),
        ("s3.amazonaws.com", "PutObject", False, "s3:export"),
        ("kms.amazonaws.com", "Decrypt", True, _p_kms),
    ],
    "instance": [
        ("s3.amazonaws.com", "GetObject", True, "s3:config"),
        ("kms.amazonaws.com", "Decrypt", True, _p_kms),
        ("secretsmanager.amazonaws.com", "GetSecretValue", True, _p_secret),
        ("ssm.amazonaws.com", "GetParameter", True, _p_param),
        ("ec2.amazonaws.com", "DescribeTags", True, _p_none),
    ],
    "lambda": [
        ("secretsmanager.amazonaws.com", "GetSecretValue", True, _p_secret),
        ("kms.amazonaws.com", "Decrypt", True, _p_kms),
        ("ssm.amazonaws.com", "GetParameter", True, _p_param),
    ],
    "config": [
        ("ec2.amazonaws.com", "DescribeSecurityGroups", True, _p_none),
        ("ec2.amazonaws.com", "DescribeVpcs", True, _p_none),
        ("iam.amazonaws.com", "GetRolePolicy", True, _p_role),
        ("s3.amazonaws.com", "GetBucketPolicy", True, "s3:config-bucket"),
        ("lambda.amazonaws.com", "ListFunctions20150331", True, _p_none),
    ],
    "terraform": [
        ("organizations.amazonaws.com", "DescribeOrganization", True, _p_none),
        ("organizations.amazonaws.com", "ListAccounts", True, _p_none),
        ("iam.amazonaws.com", "GetRole", True, _p_role),
        ("iam.amazonaws.com", "ListAttachedRolePolicies", True, _p_role),
        ("s3.amazonaws.com", "GetBucketVersioning", True, "s3:config-bucket"),
    ],
    "backup": [
        ("rds.amazonaws.com", "DescribeDBInstances", True, _p_none),
        ("rds.amazonaws.com", "CreateDBSnapshot", False, _p_none),
        ("rds.amazonaws.com", "DescribeDBSnapshots", True, _p_none),
        ("s3.amazonaws.com", "PutObject", False, "s3:backup"),
    ],
}
_BUCKETS = {
    "artifacts": "example-org-artifacts",
    "lake": "example-org-data-lake",
    "lake-list": "example-org-data-lake",
    "export": "example-org-exports",
    "config": "example-org-instance-config",
    "config-bucket": "example-org-config",
    "backup": "example-org-backups",
}


def _count(rng: random.Random, mean: float) -> int:
    """An integer with the given mean: floor(mean) plus one with probability frac(mean)."""
    base = int(mean)
    return base + (1 if rng.random() < mean - base else 0)


_PERMISSION_SETS = {"platform": "PlatformEngineer", "audit": "SecurityAudit", "data": "DataEngineer"}
# (account name, role, API profile) a person of each kind hops into from their SSO session
_HOP_TARGETS = {
    "platform": [
        ("staging", "PlatformDeploy", "platform"),
        ("prod", "PlatformDeploy", "platform"),
        ("prod", "ReadOnlyAudit", "audit"),
    ],
    "audit": [
        (a, "ReadOnlyAudit", "audit") for a in ("management", "prod", "staging", "data", "shared-services")
    ]
    + [("security", "SecurityAuditor", "audit")],  # the last one is a same-account hop
    "data": [("data", "DataAnalyst", "data"), ("data", "ReadOnlyAudit", "audit")],
}
_REPOS = ("platform-api", "web-frontend", "infra")
_CONFIG_ROLE = "aws-service-role/config.amazonaws.com/AWSServiceRoleForConfig"


class _Who(NamedTuple):
    """Who calls, from where: the userIdentity, the account that logs the call, region, address, agent."""

    identity: dict
    account: str
    region: str
    ip: str
    ua: str
