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
"""

from __future__ import annotations

import base64
import gc
import gzip
import hashlib
import ipaddress
import json
import multiprocessing
import os
import random
from collections import defaultdict, deque
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import Future, ProcessPoolExecutor, ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, NamedTuple

__all__ = [
    "KNOWN_CIDRS",
    "CORPORATE_CIDR",
    "CI_EGRESS_CIDR",
    "CORPORATE_CIDR_V6",
    "DEFAULT_ACCOUNTS",
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

CORPORATE_CIDR = "198.51.100.0/24"
CI_EGRESS_CIDR = "203.0.113.0/24"  # GitHub Actions runners and the VPC NAT gateways egress here
CORPORATE_CIDR_V6 = "2001:db8:1234::/48"
KNOWN_CIDRS: tuple[str, ...] = (CORPORATE_CIDR, CI_EGRESS_CIDR, CORPORATE_CIDR_V6)

DEFAULT_ORG_ID = "o-a1b2c3d4e5"
DEFAULT_ACCOUNTS: dict[str, str] = {
    "management": "111122223333",
    "security": "222233334444",
    "shared-services": "333344445555",
    "prod": "444455556666",
    "staging": "555566667777",
    "data": "666677778888",
}
DEFAULT_PEOPLE: tuple[str, ...] = ("alice", "bob", "carol", "dave", "erin", "frank", "grace", "heidi")
DEFAULT_START = datetime(2024, 3, 4, tzinfo=UTC)  # a Monday

EVENT_VERSION = "1.08"
SESSION_TOKEN = (
    "<encoded session token blob>"  # CloudTrail logs the real token; a placeholder keeps files small
)
GITHUB_OIDC_HOST = "token.actions.githubusercontent.com"
SSO_AUDIENCE = "https://signin.aws.amazon.com/saml"

_UPPER_DIGITS = "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
_ALNUM = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"
_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
# S3 object-level calls are data events (managementEvent false, eventCategory "Data").
_S3_DATA_EVENTS = frozenset(
    {"GetObject", "PutObject", "DeleteObject", "HeadObject", "CopyObject", "ListObjects", "ListObjectsV2"}
)
_GLOBAL_SOURCES = frozenset({"iam.amazonaws.com", "organizations.amazonaws.com", "sso.amazonaws.com"})

UA_CLI_MAC = "aws-cli/2.15.30 Python/3.11.8 Darwin/23.3.0 exe/x86_64 prompt/off"
UA_CLI_LINUX = "aws-cli/2.15.30 Python/3.11.8 Linux/6.5.0-1015-aws exe/x86_64.ubuntu.22 prompt/off"
UA_BROWSER = (
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/122.0.0.0 Safari/537.36"
)
UA_BOTO3 = (
    "Boto3/1.34.69 md/Botocore#1.34.69 ua/2.0 os/linux#5.10.213-201.855.amzn2.x86_64 md/arch#x86_64 "
    "lang/python#3.11.8 md/pyimpl#CPython cfg/retry-mode#legacy Botocore/1.34.69"
)
UA_GITHUB = "aws-sdk-nodejs/2.1550.0 linux/v20.11.0 configure-aws-credentials-for-github-actions promise"
UA_TERRAFORM = (
    "APN/1.0 HashiCorp/1.0 Terraform/1.7.5 (+https://www.terraform.io) terraform-provider-aws/5.40.0"
)
UA_SSM_AGENT = "aws-sdk-go/1.44.260 (go1.20.12; linux; amd64) amazon-ssm-agent/3.3.131.0"
UA_LAMBDA = "Boto3/1.34.42 md/Botocore#1.34.42 ua/2.0 os/linux#5.10.209 lang/python#3.12.2 exec-env/AWS_Lambda_python3.12"


# --------------------------------------------------------------------------- small helpers


def _utc(t: datetime | str) -> datetime:
    """A timezone-aware UTC datetime from a datetime (naive = UTC) or a CloudTrail time string."""
    if t.__class__ is datetime and t.tzinfo is UTC:
        return t
    if isinstance(t, str):
        t = datetime.strptime(t, "%Y-%m-%dT%H:%M:%SZ")
    if t.tzinfo is None:
        return t.replace(tzinfo=UTC)
    return t.astimezone(UTC)


def _ts(t: datetime) -> str:
    """CloudTrail's eventTime format, whole seconds: 2024-03-04T10:15:00Z."""
    return t.isoformat(timespec="seconds")[:19] + "Z"


def _expiration(t: datetime) -> str:
    """responseElements.credentials.expiration as STS writes it: "Mar 4, 2024, 10:15:00 AM"."""
    h12 = t.hour % 12 or 12
    ampm = "AM" if t.hour < 12 else "PM"
    return f"{_MONTHS[t.month - 1]} {t.day}, {t.year}, {h12}:{t.minute:02d}:{t.second:02d} {ampm}"


def _derived_rng(*parts: object) -> random.Random:
    """An rng seeded from a call's arguments, for calls made without one: ids stay distinct and repeatable."""
    return random.Random("|".join(str(p) for p in parts))


_UUID_MASK = ~((0xF << 76) | (0xC << 60))
_UUID_BITS = (0x4 << 76) | (0x8 << 60)  # version 4, RFC 4122 variant


def _uuid(rng: random.Random) -> str:
    """A version-4 uuid string drawn from rng (uuid.uuid4 would read os.urandom)."""
    h = f"{rng.getrandbits(128) & _UUID_MASK | _UUID_BITS:032x}"
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"


def _access_key(rng: random.Random, prefix: str = "ASIA") -> str:
    """A 20-character access key id: ASIA (temporary) or AKIA (long-term) + 16 uppercase alphanumerics."""
    return prefix + "".join(rng.choices(_UPPER_DIGITS, k=16))


_STABLE_IDS: dict[tuple[str, str], str] = {}


def _stable_id(prefix: str, text: str) -> str:
    """A unique id (AROA/AIDA + 17 chars) that depends only on text, so a role keeps its id everywhere."""
    key = (prefix, text)
    got = _STABLE_IDS.get(key)
    if got is None:
        digest = hashlib.sha256(text.encode()).digest()
        got = prefix + "".join(_UPPER_DIGITS[b % 36] for b in digest[:17])
        _STABLE_IDS[key] = got
    return got


def _split_role_arn(role_arn: str) -> tuple[str, str, str]:
    """arn:aws:iam::<acct>:role/<path/><name> -> (account, name, path with slashes)."""
    parts = role_arn.split(":", 5)
    if len(parts) != 6 or parts[2] != "iam" or not parts[5].startswith("role/"):
        raise ValueError(f"not an IAM role ARN: {role_arn!r}")
    rest = parts[5][len("role") :]  # "/path/name"
    path, _, name = rest.rpartition("/")
    return parts[4], name, path + "/"


def _clone(obj: Any) -> Any:
    """Copy of JSON-shaped data (dicts, lists, scalars); much cheaper than copy.deepcopy."""
    if type(obj) is dict:
        new = obj.copy()
        for k, v in new.items():
            if type(v) is dict or type(v) is list:
                new[k] = _clone(v)
        return new
    if type(obj) is list:
        return [_clone(v) if type(v) is dict or type(v) is list else v for v in obj]
    return obj


def _is_service(identity: dict, source_ip: str) -> bool:
    return identity.get("type") == "AWSService" or source_ip.endswith(".amazonaws.com")


def _tls(host: str) -> dict:
    return {
        "tlsVersion": "TLSv1.3",
        "cipherSuite": "TLS_AES_128_GCM_SHA256",
        "clientProvidedHostHeader": host,
    }


def _host(event_source: str, region: str) -> str:
    svc = event_source.split(".", 1)[0]
    if event_source in _GLOBAL_SOURCES:
        return event_source
    return f"{svc}.{region}.amazonaws.com"


def _record(
    rng: random.Random,
    t: datetime,
    identity: dict,
    event_source: str,
    event_name: str,
    region: str,
    source_ip: str,
    user_agent: str,
    request_parameters: dict | None,
    response_elements: dict | None,
    account: str,
    *,
    read_only: bool,
    error_code: str | None = None,
    error_message: str | None = None,
    resources: list | None = None,
    additional_event_data: dict | None = None,
    management: bool = True,
    shared_event_id: str | None = None,
    request_id: str | None = None,
) -> dict:
    """One record with CloudTrail's key order; userIdentity is used as given (callers copy it)."""
    rec: dict[str, Any] = {
        "eventVersion": EVENT_VERSION,
        "userIdentity": identity,
        "eventTime": _ts(t),
        "eventSource": event_source,
        "eventName": event_name,
        "awsRegion": region,
        "sourceIPAddress": source_ip,
        "userAgent": user_agent,
    }
    if error_code is not None:
        rec["errorCode"] = error_code
        rec["errorMessage"] = error_message
    rec["requestParameters"] = request_parameters
    rec["responseElements"] = response_elements
    if additional_event_data is not None:
        rec["additionalEventData"] = additional_event_data
    rec["requestID"] = request_id or _uuid(rng)
    rec["eventID"] = _uuid(rng)
    rec["readOnly"] = read_only
    if resources is not None:
        rec["resources"] = resources
    rec["eventType"] = "AwsApiCall"
    rec["managementEvent"] = management
    rec["recipientAccountId"] = account
    if shared_event_id is not None:
        rec["sharedEventID"] = shared_event_id
    rec["eventCategory"] = "Management" if management else "Data"
    if not _is_service(identity, source_ip):
        rec["tlsDetails"] = _tls(_host(event_source, region))
    return rec


# --------------------------------------------------------------------------- identities


def iam_user(account: str, name: str, access_key: str, *, path: str = "/") -> dict:
    """userIdentity of an IAM user calling with a long-term (AKIA...) key."""
    arn = f"arn:aws:iam::{account}:user{path}{name}"
    return {
        "type": "IAMUser",
        "principalId": _stable_id("AIDA", arn),
        "arn": arn,
        "accountId": account,
        "accessKeyId": access_key,
        "userName": name,
    }


def assumed_role_identity(
    account: str,
    role_name: str,
    session_name: str,
    access_key: str,
    source_identity: str | None = None,
    issuer_account: str | None = None,
    mfa: bool = False,
    creation_date: datetime | str | None = None,
    *,
    role_path: str = "/",
    invoked_by: str | None = None,
) -> dict:
    """userIdentity of a role session (type AssumedRole) calling with its temporary key.

    ``issuer_account`` overrides sessionIssuer.accountId (CloudTrail always writes the role's own
    account there; the override exists for crafting odd fixtures). ``role_path`` is the role's IAM
    path ("/aws-reserved/sso.amazonaws.com/" for IAM Identity Center roles): it shows in the
    sessionIssuer ARN but not in the assumed-role ARN. ``creation_date`` defaults to DEFAULT_START.
    """
    issuer_acct = issuer_account or account
    role_arn = f"arn:aws:iam::{issuer_acct}:role{role_path}{role_name}"
    role_id = _stable_id("AROA", role_arn)
    created = _ts(_utc(creation_date)) if creation_date is not None else _ts(DEFAULT_START)
    ctx: dict[str, Any] = {
        "sessionIssuer": {
            "type": "Role",
            "principalId": role_id,
            "arn": role_arn,
            "accountId": issuer_acct,
            "userName": role_name,
        },
        "webIdFederationData": {},
        "attributes": {"creationDate": created, "mfaAuthenticated": "true" if mfa else "false"},
    }
    if source_identity is not None:
        ctx["sourceIdentity"] = source_identity
    ident: dict[str, Any] = {
        "type": "AssumedRole",
        "principalId": f"{role_id}:{session_name}",
        "arn": f"arn:aws:sts::{account}:assumed-role/{role_name}/{session_name}",
        "accountId": account,
        "accessKeyId": access_key,
        "sessionContext": ctx,
    }
    if invoked_by is not None:
        ident["invokedBy"] = invoked_by
    return ident


def aws_service_identity(service: str) -> dict:
    """userIdentity of an AWS service acting itself, e.g. lambda.amazonaws.com assuming a role."""
    return {"type": "AWSService", "invokedBy": service}


def root_identity(account: str, access_key: str | None = None) -> dict:
    """userIdentity of the account's root user."""
    ident = {
        "type": "Root",
        "principalId": account,
        "arn": f"arn:aws:iam::{account}:root",
        "accountId": account,
    }
    if access_key is not None:
        ident["accessKeyId"] = access_key
    return ident


def saml_identity(user_name: str, name_qualifier: str) -> dict:
    """userIdentity of an AssumeRoleWithSAML call (type SAMLUser)."""
    return {
        "type": "SAMLUser",
        "principalId": f"{name_qualifier}:{user_name}",
        "userName": user_name,
        "identityProvider": name_qualifier,
    }


def web_identity(provider: str, subject: str, audience: str = "sts.amazonaws.com") -> dict:
    """userIdentity of an AssumeRoleWithWebIdentity call (type WebIdentityUser).

    ``provider`` is the OIDC provider ARN (arn:aws:iam::<acct>:oidc-provider/<host>) or a
    well-known issuer name such as "accounts.google.com".
    """
    return {
        "type": "WebIdentityUser",
        "principalId": f"{provider}:{audience}:{subject}",
        "userName": subject,
        "identityProvider": provider,
    }


# --------------------------------------------------------------------------- STS calls


class AssumeResult(NamedTuple):
    """What an AssumeRole* call produced.

    ``records``: the CloudTrail records (two for a successful cross-account AssumeRole).
    ``access_key_id``: the issued ASIA... key, None when the call failed.
    ``session``: the userIdentity that calls made with the issued credentials carry (pass it to
    ``api_call`` or as the caller of a chained ``assume_role``), None when the call failed.
    """

    records: list[dict]
    access_key_id: str | None
    session: dict | None


def _issue(
    rng: random.Random,
    t: datetime,
    role_arn: str,
    session_name: str,
    duration_seconds: int,
    source_identity: str | None,
    mfa: bool,
) -> tuple[dict, dict, str, dict]:
    """credentials, assumedRoleUser, key id and the new session's identity."""
    account, role_name, path = _split_role_arn(role_arn)
    key = _access_key(rng)
    creds = {
        "accessKeyId": key,
        "sessionToken": SESSION_TOKEN,
        "expiration": _expiration(t + timedelta(seconds=duration_seconds)),
    }
    role_user = {
        "assumedRoleId": f"{_stable_id('AROA', role_arn)}:{session_name}",
        "arn": f"arn:aws:sts::{account}:assumed-role/{role_name}/{session_name}",
    }
    session = assumed_role_identity(
        account, role_name, session_name, key, source_identity, mfa=mfa, creation_date=t, role_path=path
    )
    return creds, role_user, key, session


def assume_role(
    time: datetime | str,
    caller: dict,
    role_arn: str,
    session_name: str,
    *,
    source_identity: str | None = None,
    duration_seconds: int = 3600,
    source_ip: str | None = None,
    user_agent: str | None = None,
    region: str = "us-east-1",
    tags: dict[str, str] | None = None,
    transitive_tag_keys: Sequence[str] | None = None,
    external_id: str | None = None,
    serial_number: str | None = None,
    error_code: str | None = None,
    error_message: str | None = None,
    rng: random.Random | None = None,
) -> AssumeResult:
    """An sts:AssumeRole call by ``caller`` (an identity dict) for ``role_arn``.

    Cross-account and successful: two records, the caller account's copy (userIdentity = caller)
    and the role owner's copy (userIdentity type AWSAccount), with different eventIDs, the same
    requestID and the same sharedEventID. Same-account: one record without sharedEventID. An AWS
    service caller (``aws_service_identity``): one record in the role's account, with a
    sharedEventID as CloudTrail writes it, and sourceIPAddress/userAgent = the service.
    Failed (``error_code`` given, e.g. "AccessDenied"): responseElements null and one record only,
    in the caller's account (CloudTrail does not deliver a denied call to the role's account).

    A caller session that carries a sourceIdentity passes it on to the new session (it shows in
    responseElements and in the new session's sessionContext); ``source_identity`` is what the
    caller passed explicitly (requestParameters.sourceIdentity).
    """
    t = _utc(time)
    rng = rng or _derived_rng("AssumeRole", _ts(t), caller.get("arn"), role_arn, session_name)
    role_account, _, _ = _split_role_arn(role_arn)
    service = caller.get("type") == "AWSService"
    if caller.get("type") in ("SAMLUser", "WebIdentityUser"):
        raise ValueError("federated users call assume_role_with_saml / assume_role_with_web_identity")
    caller_account = role_account if service else caller["accountId"]
    if service:
        source_ip = source_ip or caller["invokedBy"]
        user_agent = user_agent or caller["invokedBy"]
    elif source_ip is None or user_agent is None:
        raise ValueError("source_ip and user_agent are required for a non-service caller")
    inherited = (caller.get("sessionContext") or {}).get("sourceIdentity")
    effective_si = inherited or source_identity

    params: dict[str, Any] = {"roleArn": role_arn, "roleSessionName": session_name}
    if not service:
        params["durationSeconds"] = duration_seconds
    if source_identity is not None:
        params["sourceIdentity"] = source_identity
    if tags:
        params["tags"] = [{"key": k, "value": v} for k, v in tags.items()]
    if transitive_tag_keys:
        params["transitiveTagKeys"] = list(transitive_tag_keys)
    if external_id is not None:
        params["externalId"] = external_id
    if serial_number is not None:
        params["serialNumber"] = serial_number
    resources = [{"accountId": role_account, "type": "AWS::IAM::Role", "ARN": role_arn}]
    request_id = _uuid(rng)

    if error_code is not None:
        if error_message is None:
            who = caller.get("arn") or caller.get("invokedBy")
            error_message = (
                f"User: {who} is not authorized to perform: sts:AssumeRole on resource: {role_arn}"
            )
        rec = _record(
            rng,
            t,
            _clone(caller),
            "sts.amazonaws.com",
            "AssumeRole",
            region,
            source_ip,
            user_agent,
            params,
            None,
            caller_account,
            read_only=True,
            error_code=error_code,
            error_message=error_message,
            resources=resources,
            request_id=request_id,
        )
        return AssumeResult([rec], None, None)

    mfa = (caller.get("sessionContext") or {}).get("attributes", {}).get("mfaAuthenticated") == "true"
    creds, role_user, key, session = _issue(
        rng, t, role_arn, session_name, duration_seconds, effective_si, mfa or serial_number is not None
    )
    response: dict[str, Any] = {"credentials": creds}
    if not service:
        # Service-made assumes (Lambda, EventBridge, ...) log only the credentials.
        response["assumedRoleUser"] = role_user
    if tags:
        response["packedPolicySize"] = 4 + 2 * len(tags)
    if effective_si is not None:
        response["sourceIdentity"] = effective_si

    cross = not service and caller_account != role_account
    shared = _uuid(rng) if (cross or service) else None
    first = _record(
        rng,
        t,
        _clone(caller),
        "sts.amazonaws.com",
        "AssumeRole",
        region,
        source_ip,
        user_agent,
        params,
        response,
        caller_account,
        read_only=True,
        resources=resources,
        shared_event_id=shared,
        request_id=request_id,
    )
    records = [first]
    if cross:
        owner_identity = {
            "type": "AWSAccount",
            "principalId": caller.get("principalId", caller_account),
            "accountId": caller_account,
        }
        records.append(
            _record(
                rng,
                t,
                owner_identity,
                "sts.amazonaws.com",
                "AssumeRole",
                region,
                source_ip,
                user_agent,
                _clone(params),
                _clone(response),
                role_account,
                read_only=True,
                resources=_clone(resources),
                shared_event_id=shared,
                request_id=request_id,
            )
        )
    return AssumeResult(records, key, session)


def _federated_assume(
    rng: random.Random,
    t: datetime,
    identity: dict,
    event_name: str,
    role_arn: str,
    session_name: str,
    params: dict,
    resources: list,
    response_fields,
    *,
    duration_seconds: int,
    source_identity: str | None,
    region: str,
    source_ip: str,
    user_agent: str,
    error_code: str | None,
    error_message: str | None,
) -> AssumeResult:
    """What AssumeRoleWithSAML and AssumeRoleWithWebIdentity share: one record in the role's
    account; on success the issued credentials, in the response ``response_fields`` builds."""
    role_account, _, _ = _split_role_arn(role_arn)
    if error_code is not None:
        rec = _record(
            rng, t, identity, "sts.amazonaws.com", event_name, region, source_ip, user_agent, params, None,
            role_account, read_only=True, error_code=error_code,
            error_message=error_message or f"Not authorized to perform sts:{event_name}", resources=resources,
        )  # fmt: skip
        return AssumeResult([rec], None, None)
    creds, role_user, key, session = _issue(
        rng, t, role_arn, session_name, duration_seconds, source_identity, False
    )
    response: dict[str, Any] = response_fields(creds, role_user)
    if source_identity is not None:
        response["sourceIdentity"] = source_identity
    rec = _record(
        rng, t, identity, "sts.amazonaws.com", event_name, region, source_ip, user_agent, params, response,
        role_account, read_only=True, resources=resources,
    )  # fmt: skip
    return AssumeResult([rec], key, session)


def assume_role_with_saml(
    time: datetime | str,
    role_arn: str,
    principal_arn: str,
    user_name: str,
    *,
    session_name: str | None = None,
    source_identity: str | None = None,
    name_qualifier: str | None = None,
    issuer: str = "https://portal.sso.us-east-1.amazonaws.com/saml/assertion/MTExMTIyMjIzMzMzX2lucy0x",
    subject_type: str = "persistent",
    duration_seconds: int = 3600,
    source_ip: str = "198.51.100.10",
    user_agent: str = UA_BROWSER,
    region: str = "us-east-1",
    principal_tags: dict[str, str] | None = None,
    transitive_tag_keys: Sequence[str] | None = None,
    error_code: str | None = None,
    error_message: str | None = None,
    rng: random.Random | None = None,
) -> AssumeResult:
    """An sts:AssumeRoleWithSAML call: one record in the role's account, userIdentity type SAMLUser.

    ``principal_arn`` is the SAML provider (arn:aws:iam::<acct>:saml-provider/<name>), ``user_name``
    the assertion's subject. ``session_name`` defaults to ``user_name``.
    """
    t = _utc(time)
    rng = rng or _derived_rng("AssumeRoleWithSAML", _ts(t), role_arn, user_name)
    role_account, _, _ = _split_role_arn(role_arn)
    session_name = session_name or user_name
    if name_qualifier is None:
        # IAM derives it as base64(SHA1(issuer + account id + provider name)); any stable value will do here
        digest = hashlib.sha1(f"{issuer}{role_account}{principal_arn}".encode()).digest()
        name_qualifier = base64.b64encode(digest).decode()
    params: dict[str, Any] = {
        "sAMLAssertionID": "_" + _uuid(rng).replace("-", ""),
        "roleSessionName": session_name,
    }
    if source_identity is not None:
        params["sourceIdentity"] = source_identity
    if principal_tags:
        params["principalTags"] = dict(principal_tags)
    if transitive_tag_keys:
        params["transitiveTagKeys"] = list(transitive_tag_keys)
    params["durationSeconds"] = duration_seconds
    params["roleArn"] = role_arn
    params["principalArn"] = principal_arn
    resources = [
        {"ARN": role_arn, "accountId": role_account, "type": "AWS::IAM::Role"},
        {"ARN": principal_arn, "accountId": role_account, "type": "AWS::IAM::SAMLProvider"},
    ]
    identity = saml_identity(user_name, name_qualifier)
    return _federated_assume(
        rng, t, identity, "AssumeRoleWithSAML", role_arn, session_name, params, resources,
        lambda creds, role_user: {
            "subjectType": subject_type,
            "issuer": issuer,
            "credentials": creds,
            "nameQualifier": name_qualifier,
            "assumedRoleUser": role_user,
            "subject": user_name,
            "audience": SSO_AUDIENCE,
        },
        duration_seconds=duration_seconds, source_identity=source_identity, region=region, source_ip=source_ip,
        user_agent=user_agent, error_code=error_code, error_message=error_message,
    )  # fmt: skip


def assume_role_with_web_identity(
    time: datetime | str,
    role_arn: str,
    provider: str,
    subject: str,
    *,
    session_name: str = "GitHubActions",
    audience: str = "sts.amazonaws.com",
    source_identity: str | None = None,
    duration_seconds: int = 3600,
    source_ip: str = "203.0.113.10",
    user_agent: str = UA_GITHUB,
    region: str = "us-east-1",
    principal_tags: dict[str, str] | None = None,
    transitive_tag_keys: Sequence[str] | None = None,
    error_code: str | None = None,
    error_message: str | None = None,
    rng: random.Random | None = None,
) -> AssumeResult:
    """An sts:AssumeRoleWithWebIdentity call: one record in the role's account (WebIdentityUser).

    ``provider`` is the OIDC provider ARN or issuer (see ``web_identity``), ``subject`` the token's
    sub claim, e.g. "repo:example-org/app:ref:refs/heads/main" for GitHub Actions.
    """
    t = _utc(time)
    rng = rng or _derived_rng("AssumeRoleWithWebIdentity", _ts(t), role_arn, subject, session_name)
    role_account, _, _ = _split_role_arn(role_arn)
    params: dict[str, Any] = {"roleArn": role_arn, "roleSessionName": session_name}
    if source_identity is not None:
        params["sourceIdentity"] = source_identity
    if principal_tags:
        params["principalTags"] = dict(principal_tags)
    if transitive_tag_keys:
        params["transitiveTagKeys"] = list(transitive_tag_keys)
    params["durationSeconds"] = duration_seconds
    resources = [{"ARN": role_arn, "accountId": role_account, "type": "AWS::IAM::Role"}]
    identity = web_identity(provider, subject, audience)
    return _federated_assume(
        rng, t, identity, "AssumeRoleWithWebIdentity", role_arn, session_name, params, resources,
        lambda creds, role_user: {
            "credentials": creds,
            "subjectFromWebIdentityToken": subject,
            "assumedRoleUser": role_user,
            "provider": provider,
            "audience": audience,
        },
        duration_seconds=duration_seconds, source_identity=source_identity, region=region, source_ip=source_ip,
        user_agent=user_agent, error_code=error_code, error_message=error_message,
    )  # fmt: skip


# --------------------------------------------------------------------------- other API calls


def api_call(
    time: datetime | str,
    identity: dict,
    event_source: str,
    event_name: str,
    account: str,
    region: str,
    source_ip: str,
    user_agent: str,
    request_parameters: dict | None = None,
    read_only: bool = True,
    error_code: str | None = None,
    *,
    error_message: str | None = None,
    response_elements: dict | None = None,
    resources: list | None = None,
    additional_event_data: dict | None = None,
    management: bool | None = None,
    rng: random.Random | None = None,
) -> dict:
    """Any non-STS API call (or STS GetCallerIdentity) by ``identity``, recorded in ``account``.

    ``identity`` is copied into the record; request_parameters, response_elements and resources
    are used as given. Without ``rng`` the ids derive from the arguments (the same call twice gives
    the same eventID): pass one rng for many calls. S3 object-level calls (GetObject, PutObject, ...) are
    data events (managementEvent false, eventCategory "Data") unless ``management`` says otherwise;
    when their requestParameters carry bucketName/key, resources are filled in as S3 writes them.
    A failed call (``error_code``) gets a default AccessDenied-style errorMessage.
    """
    t = _utc(time)
    rng = rng or _derived_rng("api", _ts(t), identity.get("arn"), event_source, event_name, account)
    is_s3 = event_source == "s3.amazonaws.com"
    if management is None:
        management = not (is_s3 and event_name in _S3_DATA_EVENTS)
    request_id = None
    if is_s3:
        request_id = f"{rng.getrandbits(64):016X}"  # S3 request ids are 16 hex digits
        if resources is None and request_parameters and "bucketName" in request_parameters:
            bucket = request_parameters["bucketName"]
            resources = []
            if "key" in request_parameters:
                resources.append(
                    {"type": "AWS::S3::Object", "ARN": f"arn:aws:s3:::{bucket}/{request_parameters['key']}"}
                )
            resources.append(
                {"accountId": account, "type": "AWS::S3::Bucket", "ARN": f"arn:aws:s3:::{bucket}"}
            )
    if error_code is not None and error_message is None:
        who = identity.get("arn") or identity.get("invokedBy") or identity.get("userName")
        action = f"{event_source.split('.', 1)[0]}:{event_name}"
        error_message = (
            f"User: {who} is not authorized to perform: {action} because no identity-based policy "
            f"allows the {action} action"
        )
    return _record(
        rng,
        t,
        _clone(identity),
        event_source,
        event_name,
        region,
        source_ip,
        user_agent,
        request_parameters,
        response_elements,
        account,
        read_only=read_only,
        error_code=error_code,
        error_message=error_message,
        resources=resources,
        additional_event_data=additional_event_data,
        management=management,
        request_id=request_id,
    )


# --------------------------------------------------------------------------- the organization


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


@dataclass
class LogFile:
    """One CloudTrail log object: its S3 key and records (sorted by eventTime)."""

    key: str
    account_id: str
    region: str
    start: datetime
    records: list[dict]


@dataclass
class Stats:
    """What a writer wrote: files, records and compressed bytes."""

    files: int = 0
    records: int = 0
    bytes: int = 0

    def add(self, files: int, records: int, size: int) -> None:
        self.files += files
        self.records += records
        self.bytes += size


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
            self._person(out, d, day0, weekday, p)
        self._ci(out, d, day0, weekday)
        self._exporter(out, d, day0)
        for w in self.instances:
            self._instance(out, d, day0, w)
        for w in self.functions:
            self._function(out, d, day0, w)
        self._eventbridge(out, d, day0)
        for name in self.spec.accounts:
            for region in self.spec.regions:
                self._config(out, d, day0, name, region)
        for user in self.iam_users:
            self._iam_user(out, d, day0, weekday, user)
        return out

    def _person(self, out: list[dict], d: int, day0: datetime, weekday: bool, p: _Person) -> None:
        """SSO login into the security account, then a few hops into other accounts' roles."""
        rng = self._rng(d, "person:" + p.name)
        if not weekday and rng.random() > 0.05:
            return
        login = day0 + timedelta(hours=p.work_start, minutes=rng.randint(-20, 70), seconds=rng.randint(0, 59))
        ip = self._ipv6(rng, p.v6_subnet) if rng.random() < 0.35 else p.ipv4
        permission_set = _PERMISSION_SETS[p.kind]
        sso = assume_role_with_saml(
            login,
            self.spec.sso_role_arn(permission_set),
            self.saml_provider,
            p.email,
            source_identity=p.email,
            duration_seconds=28800,
            source_ip=ip,
            region=self.home,
            rng=rng,
        )
        out += sso.records
        home = _Who(sso.session, self.acc["security"], p.region, ip, p.ua)
        t = self._calls(out, rng, login, home, "audit", rng.randint(0, 3))
        targets = _HOP_TARGETS[p.kind]
        hops = rng.randint(1, 4) if weekday else 1
        # hop times spread over the working day, within the 8-hour SSO session
        for offset in sorted(rng.randint(300, 8 * 3600 - 900) for _ in range(hops)):
            t = max(t, login + timedelta(seconds=offset))
            account_name, role, profile = rng.choice(targets)
            region = p.region if rng.random() < 0.8 else (self.other if p.region == self.home else self.home)
            if self.spec.failure_rate and rng.random() < self.spec.failure_rate:
                denied = assume_role(
                    t,
                    sso.session,
                    self.spec.role_arn(account_name, role + "Admin"),
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
                self.spec.role_arn(account_name, role),
                p.session_name,
                source_ip=ip,
                user_agent=p.ua,
                region=region,
                rng=rng,
            )
            out += hop.records
            who = _Who(hop.session, self.acc[account_name], region, ip, p.ua)
            t = self._calls(out, rng, t, who, profile, rng.randint(2, 8), gap=(5, 240))

    def _ci(self, out: list[dict], d: int, day0: datetime, weekday: bool) -> None:
        """GitHub Actions deploys: OIDC into GitHubActionsCI, then chained hops into PlatformDeploy."""
        if not weekday:
            return
        rng = self._rng(d, "ci")
        ci_role = self.spec.role_arn("shared-services", "GitHubActionsCI")
        times = sorted(rng.randint(7 * 3600, 20 * 3600) for _ in range(_count(rng, 6 * self.scale)))
        for j, offset in enumerate(times):
            run = 4000 + d * 100 + j
            t = day0 + timedelta(seconds=offset)
            ip = f"203.0.113.{10 + rng.randrange(40)}"
            subject = f"repo:example-org/{rng.choice(_REPOS)}:ref:refs/heads/main"
            web = assume_role_with_web_identity(
                t,
                ci_role,
                self.oidc_provider,
                subject,
                source_identity="ci@example.com",
                source_ip=ip,
                region=self.home,
                rng=rng,
            )
            out += web.records
            who = _Who(web.session, self.acc["shared-services"], self.home, ip, UA_GITHUB)
            t = self._calls(out, rng, t, who, "ci-home", rng.randint(1, 3), gap=(2, 20))
            stages = [("staging", self.home)]
            if rng.random() < 0.7:
                stages.append(("prod", self.home))
                if rng.random() < 0.4:
                    stages.append(("prod", self.other))
            for account_name, region in stages:
                t += timedelta(seconds=rng.randint(20, 180))
                hop = assume_role(
                    t,
                    web.session,
                    self.spec.role_arn(account_name, "PlatformDeploy"),
                    f"deploy-{run}",
                    source_identity="ci@example.com",
                    source_ip=ip,
                    user_agent=UA_GITHUB,
                    region=self.home,
                    rng=rng,
                )
                out += hop.records
                who = _Who(hop.session, self.acc[account_name], region, ip, UA_GITHUB)
                t = self._calls(out, rng, t, who, "ci", rng.randint(3, 8), gap=(2, 45))

    def _exporter(self, out: list[dict], d: int, day0: datetime) -> None:
        """The shared-services exporter instance hops into the data account's ExportRole every hour."""
        rng = self._rng(d, "exporter")
        w = self.exporter
        export_role = self.spec.role_arn("data", "ExportRole")
        session: dict = {}
        for hour in range(24):
            if hour % 6 == 0:  # instance-profile credentials are refreshed every few hours
                t0 = day0 + timedelta(hours=hour, seconds=rng.randint(0, 120))
                session = self._service_session(
                    out, rng, t0, "ec2.amazonaws.com", w.account, w.region, w.role, w.name
                )
            for _ in range(max(1, _count(rng, self.scale))):
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
                who = _Who(hop.session, self.acc["data"], self.other, w.nat_ip, UA_BOTO3)
                self._calls(out, rng, t, who, "export", rng.randint(3, 7), gap=(1, 30))

    def _instance(self, out: list[dict], d: int, day0: datetime, w: _Workload) -> None:
        """An EC2 instance: credentials from ec2.amazonaws.com, SSM agent check-ins, some app calls."""
        rng = self._rng(d, "instance:" + w.name)
        ssm = {"instanceId": w.name, "agentVersion": "3.3.131.0", "platformType": "Linux"}
        who = _Who({}, w.account, w.region, w.nat_ip, UA_SSM_AGENT)
        for slot in range(96):  # 15-minute slots
            t = day0 + timedelta(minutes=15 * slot, seconds=rng.randint(0, 59))
            if slot % 24 == 0:
                session = self._service_session(
                    out, rng, t, "ec2.amazonaws.com", w.account, w.region, w.role, w.name
                )
                who = who._replace(identity=session)
            t += timedelta(seconds=rng.randint(1, 120))
            self._call(out, rng, t, who, "ssm.amazonaws.com", "UpdateInstanceInformation", ssm, False)
            if rng.random() < 0.35:
                self._calls(
                    out, rng, t, who._replace(ua=UA_BOTO3), "instance", rng.randint(1, 3), gap=(5, 200)
                )

    def _function(self, out: list[dict], d: int, day0: datetime, w: _Workload) -> None:
        """A Lambda function: each cold start lambda.amazonaws.com assumes its execution role."""
        rng = self._rng(d, "function:" + w.name)
        for offset in sorted(rng.randint(0, 86399) for _ in range(_count(rng, 12))):
            t = day0 + timedelta(seconds=offset)
            session = self._service_session(
                out, rng, t, "lambda.amazonaws.com", w.account, w.region, w.role, w.name
            )
            who = _Who(session, w.account, w.region, w.nat_ip, UA_LAMBDA)
            t += timedelta(seconds=rng.randint(1, 3))
            self._call(
                out,
                rng,
                t,
                who,
                "logs.amazonaws.com",
                "CreateLogStream",
                {"logGroupName": f"/aws/lambda/{w.name}"},
                False,
            )
            self._calls(out, rng, t, who, "lambda", rng.randint(1, 5), gap=(1, 600))

    def _eventbridge(self, out: list[dict], d: int, day0: datetime) -> None:
        """An EventBridge schedule: events.amazonaws.com assumes a role to start a state machine."""
        rng = self._rng(d, "eventbridge")
        account = self.acc["shared-services"]
        machine = f"arn:aws:states:{self.home}:{account}:stateMachine:nightly-report"
        n = max(1, round(48 * self.scale))
        for slot in range(n):
            t = day0 + timedelta(seconds=slot * 86400 // n + rng.randint(0, 20))
            session = self._service_session(
                out,
                rng,
                t,
                "events.amazonaws.com",
                account,
                self.home,
                "EventBridgeInvokeStepFunctionsRole",
                f"{rng.getrandbits(128):032x}",
            )
            session["invokedBy"] = "events.amazonaws.com"
            who = _Who(session, account, self.home, "events.amazonaws.com", "events.amazonaws.com")
            self._call(
                out,
                rng,
                t + timedelta(seconds=1),
                who,
                "states.amazonaws.com",
                "StartExecution",
                {"stateMachineArn": machine},
                False,
            )

    def _config(self, out: list[dict], d: int, day0: datetime, account_name: str, region: str) -> None:
        """AWS Config's service-linked role describing resources, in every account and region."""
        rng = self._rng(d, f"config:{account_name}:{region}")
        account = self.acc[account_name]
        who = _Who({}, account, region, "config.amazonaws.com", "config.amazonaws.com")
        for hour in range(24):
            t = day0 + timedelta(hours=hour, seconds=rng.randint(0, 300))
            if hour % 4 == 0:
                session = self._service_session(
                    out, rng, t, "config.amazonaws.com", account, region, _CONFIG_ROLE, "AWSConfig-Describe"
                )
                session["invokedBy"] = "config.amazonaws.com"
                who = who._replace(identity=session)
            self._calls(out, rng, t, who, "config", _count(rng, 4 * self.scale), gap=(1, 600))

    def _iam_user(self, out: list[dict], d: int, day0: datetime, weekday: bool, user: tuple) -> None:
        """Long-term-key IAM users: Terraform from the office on weekdays, a nightly backup job."""
        account, name, key, profile, ua = user
        rng = self._rng(d, "iam:" + name)
        if profile == "terraform":
            if not weekday:
                return
            t = day0 + timedelta(hours=rng.randint(9, 17), seconds=rng.randint(0, 3599))
            who = _Who(
                iam_user(account, name, key), account, self.home, f"198.51.100.{200 + rng.randrange(10)}", ua
            )
        else:
            t = day0 + timedelta(hours=2, seconds=rng.randint(0, 600))
            who = _Who(iam_user(account, name, key), account, self.other, self.nat("data", self.other), ua)
        self._calls(out, rng, t, who, profile, _count(rng, 10 * self.scale), gap=(1, 30))


# --------------------------------------------------------------------------- files and writers


def log_key(spec: OrgSpec, account: str, region: str, start: datetime, suffix: str) -> str:
    """CloudTrail's object key for a log file (organization trail or standard layout)."""
    base = f"AWSLogs/{spec.org_id}/{account}" if spec.layout == "org" else f"AWSLogs/{account}"
    return (
        f"{base}/CloudTrail/{region}/{start:%Y/%m/%d}/"
        f"{account}_CloudTrail_{region}_{start:%Y%m%dT%H%MZ}_{suffix}.json.gz"
    )


def _window_start(event_time: str) -> datetime:
    minute = int(event_time[14:16])
    return datetime(
        int(event_time[0:4]),
        int(event_time[5:7]),
        int(event_time[8:10]),
        int(event_time[11:13]),
        minute - minute % 5,
        tzinfo=UTC,
    )


def _event_time(rec: dict) -> str:
    return rec["eventTime"]


def _suffix(spec: OrgSpec, bucket: str, account: str, region: str, index: int) -> str:
    """The 16 random alphanumerics of a file name, drawn from an rng seeded by the file's identity
    (not from one shared stream), so any block of days can be generated on its own."""
    return "".join(random.Random(f"{spec.seed}|{bucket}|{account}|{region}|{index}").choices(_ALNUM, k=16))


def generate(spec: OrgSpec) -> Iterator[LogFile]:
    """The organization's logs as LogFiles, in time order, for [spec.start, spec.end).

    Each record goes to the file of its recipientAccountId and awsRegion. By default one file per
    account, region and 5-minute window that has records; with ``spec.records_per_file`` each
    account, region and day is cut into files of that many records. Records of one file are sorted
    by eventTime. Memory stays bounded by about one day of records.
    """
    return _generate_days(spec, 0, spec.days)


def _generate_days(spec: OrgSpec, first: int, last: int) -> Iterator[LogFile]:
    """The files of days [first, last); the concatenation over consecutive blocks equals generate().

    Activity started on one day may run past midnight (never by a whole day), so a block begins
    by regenerating the day before it and keeping only what spills into the block.
    """
    org = _Org(spec)
    packed = spec.records_per_file is not None
    end = _ts(spec.end)
    pending: dict[tuple[str, str, str], list[dict]] = defaultdict(list)

    def horizon(day: int) -> str:
        # bucket keys compare as strings: "YYYY-MM-DDTHH:M<0|5>" windows or "YYYY-MM-DD" days
        stamp = _ts(spec.start + timedelta(days=day))
        return stamp[:10] if packed else stamp[:16]

    def flush(before: str) -> Iterator[LogFile]:
        for k in sorted(k for k in pending if k[0] < before):
            records = pending.pop(k)
            records.sort(key=_event_time)
            bucket, account, region = k
            size = spec.records_per_file or len(records)
            for i in range(0, len(records), size):
                chunk = records[i : i + size] if packed else records
                start = _window_start(chunk[0]["eventTime"])
                key = log_key(spec, account, region, start, _suffix(spec, bucket, account, region, i))
                yield LogFile(key, account, region, start, chunk)

    lower = _ts(spec.start + timedelta(days=first))
    for d in range(max(0, first - 1), last):
        # The records hold no reference cycles; pausing the cyclic GC while a day is built saves
        # about a fifth of the time. It is restored before anything is yielded.
        gc_was_enabled = gc.isenabled()
        gc.disable()
        try:
            for rec in org.day(d):
                t = rec["eventTime"]
                if t >= end or t < lower:
                    continue
                # "2024-03-04T10:07:12Z" -> window "2024-03-04T10:05"
                bucket = t[:10] if packed else t[:15] + ("0" if t[15] < "5" else "5")
                pending[(bucket, rec["recipientAccountId"], rec["awsRegion"])].append(rec)
        finally:
            if gc_was_enabled:
                gc.enable()
        if d >= first:
            # later days only add records at or after their own midnight
            yield from flush(horizon(d + 1))
    if last >= spec.days:
        yield from flush("9999")
    # otherwise what is left spills into day `last`: the next block regenerates it


def generate_records(spec: OrgSpec) -> Iterator[dict]:
    """All records of ``generate(spec)``, file after file."""
    for f in generate(spec):
        yield from f.records


def encode(records: Iterable[dict], compresslevel: int = 6) -> bytes:
    """A CloudTrail log object: gzip (mtime 0, so deterministic) of compact {"Records": [...]}."""
    body = json.dumps({"Records": list(records)}, separators=(",", ":"), check_circular=False).encode()
    return gzip.compress(body, compresslevel=compresslevel, mtime=0)


def _store(files: Iterable[LogFile], put: Callable[[str, bytes], None], threads: int) -> Stats:
    """Encode each file and hand it to put(key, data) on a thread pool (gzip and I/O release the GIL).

    At most a few files per thread are in flight, so memory stays bounded by generate()'s.
    """

    def one(f: LogFile) -> tuple[int, int]:
        data = encode(f.records)
        put(f.key, data)
        return len(f.records), len(data)

    stats = Stats()
    inflight: deque[Future] = deque()
    with ThreadPoolExecutor(max_workers=threads) as pool:
        for f in files:
            inflight.append(pool.submit(one, f))
            if len(inflight) >= threads * 4:
                stats.add(1, *inflight.popleft().result())
        while inflight:
            stats.add(1, *inflight.popleft().result())
    return stats


def _day_blocks(days: int, n: int) -> list[tuple[int, int]]:
    """Split range(days) into n contiguous, nearly equal (first, last) blocks."""
    n = max(1, min(n, days))
    cuts = [round(i * days / n) for i in range(n + 1)]
    return [(cuts[i], cuts[i + 1]) for i in range(n)]


def _write_block(root: str, spec: OrgSpec, first: int, last: int) -> Stats:
    """Write the files of days [first, last) under root."""
    made: set[str] = set()

    def put(key: str, data: bytes) -> None:
        path = os.path.join(root, key)
        folder = os.path.dirname(path)
        if folder not in made:
            os.makedirs(folder, exist_ok=True)
            made.add(folder)
        with open(path, "wb") as fh:
            fh.write(data)

    return _store(_generate_days(spec, first, last), put, threads=2)


def write_local(root: str | os.PathLike, spec: OrgSpec, *, processes: int | None = None) -> Stats:
    """Write every log file of ``spec`` under ``root`` (keys become relative paths).

    JSON encoding holds the GIL, so the days are split into contiguous blocks written by
    ``processes`` worker processes (default: one per CPU; 1 = in this process). The files are
    the same whatever the number of processes.
    """
    root = os.fspath(root)
    n = processes if processes is not None else (os.cpu_count() or 1)
    blocks = _day_blocks(spec.days, n)
    if len(blocks) <= 1:
        return _write_block(root, spec, 0, spec.days)
    total = Stats()
    # fork where there is one: spawn re-runs the caller's __main__, which breaks unguarded scripts.
    # The workers only compute and write files, so threads of the parent (a moto server) are harmless.
    methods = multiprocessing.get_all_start_methods()
    ctx = multiprocessing.get_context("fork" if "fork" in methods else "spawn")
    with ProcessPoolExecutor(len(blocks), mp_context=ctx) as pool:
        futures = [pool.submit(_write_block, root, spec, first, last) for first, last in blocks]
        for future in futures:
            part = future.result()
            total.add(part.files, part.records, part.bytes)
    return total


def write_s3(s3_client: Any, bucket: str, spec: OrgSpec, prefix: str = "", *, threads: int = 16) -> Stats:
    """Upload every log file of ``spec`` to ``bucket`` (keys under ``prefix``) with put_object."""
    prefix = prefix.strip("/")

    def put(key: str, data: bytes) -> None:
        s3_client.put_object(Bucket=bucket, Key=f"{prefix}/{key}" if prefix else key, Body=data)

    return _store(generate(spec), put, threads)
