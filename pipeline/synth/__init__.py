"""Seeded, deterministic CloudTrail logs for a synthetic multi-account AWS organization.

Two layers:

* a record factory (``iam_user``, ``assumed_role_identity``, ``assume_role``, ``api_call``, ...)
  that returns CloudTrail records as CloudTrail writes them (camelCase keys, eventVersion 1.08),
  for test fixtures and for the generator;
* ``generate(spec)``: weeks of benign traffic of an ``OrgSpec`` organization (SSO logins,
  cross-account hops, CI role chains, a data exporter, AWS services, background calls), cut into
  ``LogFile`` objects under CloudTrail's S3 key layout, and writers for a folder or a bucket.

All randomness comes from ``random.Random`` instances seeded from ``OrgSpec.seed`` (or passed in),
ids included, so the same spec always gives byte-identical output.

The default organization (``DEFAULT_ACCOUNTS``; ``spec.role_arn(account, role)`` builds the ARNs):

* people (alice@example.com, ...) sign in through IAM Identity Center: AssumeRoleWithSAML into
  security:aws-reserved/sso.amazonaws.com/AWSReservedSSO_<PermissionSet>_<hex>, sourceIdentity =
  their email; from there they hop into staging/prod:PlatformDeploy, <every account>:ReadOnlyAudit,
  data:DataAnalyst, security:SecurityAuditor (same account); the sourceIdentity is inherited;
* CI: AssumeRoleWithWebIdentity (GitHub OIDC) into shared-services:GitHubActionsCI with
  sourceIdentity ci@example.com, then chained AssumeRole into staging/prod:PlatformDeploy,
  session "deploy-<run>", weekdays only;
* shared-services:exporter (an EC2 instance profile) hops hourly into data:ExportRole with
  sourceIdentity "exporter-svc", session "export-<uuid>";
* AWS services: ec2 (AppServerRole, EtlWorkerRole, BuildRunnerRole, exporter), lambda
  (*LambdaRole, GuardDutyForwarderRole, SlackNotifierRole), events
  (shared-services:EventBridgeInvokeStepFunctionsRole) and config
  (aws-service-role/config.amazonaws.com/AWSServiceRoleForConfig in every account and region);
* IAM users with long-term keys: management:terraform-legacy, data:backup-bot.

Callers come from ``KNOWN_CIDRS`` (people: corporate IPv4/IPv6; CI runners and NAT gateways:
203.0.113.0/24) or are AWS services. At scale 1 about 3,000 records a weekday, 2,800 a weekend
day, about 10% of them STS.

The package: common.py (constants, helpers, ``_record``), identities.py, records.py (AssumeRole,
``api_call``), federated.py (SAML, web identity), catalog.py + org.py + people.py + services.py (the
organization and its actors), writers.py (files, encoding, folder and bucket writers). Everything
public is re-exported here: ``from pipeline import synth; synth.assume_role(...)``.
"""

from .common import (
    CI_EGRESS_CIDR,
    CORPORATE_CIDR,
    CORPORATE_CIDR_V6,
    DEFAULT_ACCOUNTS,
    DEFAULT_ORG_ID,
    DEFAULT_PEOPLE,
    DEFAULT_START,
    EVENT_VERSION,
    GITHUB_OIDC_HOST,
    KNOWN_CIDRS,
    SESSION_TOKEN,
    SSO_AUDIENCE,
    UA_BOTO3,
    UA_BROWSER,
    UA_CLI_LINUX,
    UA_CLI_MAC,
    UA_GITHUB,
    UA_LAMBDA,
    UA_SSM_AGENT,
    UA_TERRAFORM,
)
from .federated import assume_role_with_saml, assume_role_with_web_identity
from .identities import (
    assumed_role_identity,
    aws_service_identity,
    iam_user,
    root_identity,
    saml_identity,
    web_identity,
)
from .org import OrgSpec
from .records import AssumeResult, api_call, assume_role
from .writers import LogFile, Stats, encode, generate, generate_records, log_key, write_local, write_s3

__all__ = [
    "KNOWN_CIDRS",
    "CORPORATE_CIDR",
    "CI_EGRESS_CIDR",
    "CORPORATE_CIDR_V6",
    "DEFAULT_ACCOUNTS",
    "DEFAULT_ORG_ID",
    "DEFAULT_PEOPLE",
    "DEFAULT_START",
    "EVENT_VERSION",
    "GITHUB_OIDC_HOST",
    "SESSION_TOKEN",
    "SSO_AUDIENCE",
    "UA_BOTO3",
    "UA_BROWSER",
    "UA_CLI_LINUX",
    "UA_CLI_MAC",
    "UA_GITHUB",
    "UA_LAMBDA",
    "UA_SSM_AGENT",
    "UA_TERRAFORM",
    "AssumeResult",
    "LogFile",
    "OrgSpec",
    "Stats",
    "iam_user",
    "assumed_role_identity",
    "aws_service_identity",
    "root_identity",
    "saml_identity",
    "web_identity",
    "assume_role",
    "assume_role_with_saml",
    "assume_role_with_web_identity",
    "api_call",
    "generate",
    "generate_records",
    "encode",
    "log_key",
    "write_local",
    "write_s3",
]
