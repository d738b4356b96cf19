"""Constants, user agents and the small helpers every part of the generator shares:
CloudTrail time formats, seeded ids, and ``_record``, one record in CloudTrail's key order."""

from __future__ import annotations

import hashlib
import random
from datetime import UTC, datetime
from typing import Any

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
