"""Trust policies and what they let in: the roles' CreateRole at the start of the logs, an
occasional tightening (UpdateAssumeRolePolicy adding a condition), and the audit vendor that
assumes its role with the external id its trust policy requires.

``trust_change`` is the record factory for both IAM calls (the document as pretty JSON text, as
IAM logs it); ``trust_policies`` and ``vendor`` are actors of ``_Org.day``.
"""

from __future__ import annotations

import json
import random
import urllib.parse
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from .common import UA_TERRAFORM, VENDOR_ACCOUNT, VENDOR_CIDR, VENDOR_EXTERNAL_ID, _stable_id
from .identities import iam_user
from .records import api_call, assume_role

if TYPE_CHECKING:
    from .org import _Org

# the exporter's session policy: the broker narrows every session to the export bucket
EXPORT_SESSION_POLICY = json.dumps(
    {
        "Version": "2012-10-17",
        "Statement": [
            {"Effect": "Allow", "Action": "s3:PutObject", "Resource": "arn:aws:s3:::example-org-exports/*"}
        ],
    }
)
TIGHTENING_DAYS = (9, 16, 23)  # one role each time, in TIGHTENED order
TIGHTENED = ("prod", "staging", "management")  # their ReadOnlyAudit gains an aws:PrincipalArn condition


def trust_change(
    time: datetime,
    identity: dict,
    account: str,
    role_name: str,
    document: dict | None,
    *,
    create: bool = False,
    text: str | None = None,
    source_ip: str = "198.51.100.201",
    user_agent: str = UA_TERRAFORM,
    error_code: str | None = None,
    rng: random.Random | None = None,
) -> dict:
    """A CreateRole (``create``) or UpdateAssumeRolePolicy record of ``role_name`` in ``account``.
    ``text`` overrides the document's JSON text (any whitespace IAM was given)."""
    body = text if text is not None else json.dumps(document, indent=4)
    params = {"roleName": role_name, ("assumeRolePolicyDocument" if create else "policyDocument"): body}
    response = None
    if create and error_code is None:
        arn = f"arn:aws:iam::{account}:role/{role_name}"
        response = {
            "role": {
                "path": "/",
                "roleName": role_name,
                "roleId": _stable_id("AROA", arn),
                "arn": arn,
                "createDate": time.strftime("%b %d, %Y %I:%M:%S %p"),
                # IAM returns the document URL-encoded
                "assumeRolePolicyDocument": urllib.parse.quote(json.dumps(document)),
            }
        }
    return api_call(
        time, identity, "iam.amazonaws.com", "CreateRole" if create else "UpdateAssumeRolePolicy", account,
        "us-east-1", source_ip, user_agent, params, read_only=False, error_code=error_code,
        response_elements=response, rng=rng or random.Random(f"{time}|{account}|{role_name}"),
    )  # fmt: skip


def _allow(principal: dict, condition: dict | None = None, action="sts:AssumeRole") -> dict:
    st = {"Effect": "Allow", "Principal": principal, "Action": action}
    if condition:
        st["Condition"] = condition
    return st


def policies(org: _Org) -> list[tuple[str, str, dict]]:
    """(account name, role name, trust policy) of the organization's roles at the start."""
    acc, spec = org.acc, org.spec
    org_id = {"StringEquals": {"aws:PrincipalOrgID": spec.org_id}}
    security_root = {"AWS": f"arn:aws:iam::{acc['security']}:root"}
    ci = spec.role_arn("shared-services", "GitHubActionsCI")
    out = []
    for account in ("staging", "prod"):
        out.append((account, "PlatformDeploy", _doc(
            _allow({"AWS": [ci, f"arn:aws:iam::{acc['security']}:root"]},
                   {"StringLike": {"sts:SourceIdentity": f"*@{spec.email_domain}"}},
                   ["sts:AssumeRole", "sts:SetSourceIdentity", "sts:TagSession"]))))  # fmt: skip
    for account in ("management", "prod", "staging", "data", "shared-services"):
        out.append((account, "ReadOnlyAudit", _doc(_allow(security_root, org_id))))
    out.append(("security", "SecurityAuditor", _doc(_allow(security_root))))
    out.append(("data", "DataAnalyst", _doc(_allow(security_root, org_id))))
    out.append(("data", "ExportRole", _doc(_allow(
        {"AWS": f"arn:aws:iam::{acc['shared-services']}:role/exporter"},
        {"StringEquals": {"sts:SourceIdentity": "exporter-svc"}},
        ["sts:AssumeRole", "sts:SetSourceIdentity", "sts:TagSession"]))))  # fmt: skip
    out.append(("data", "VendorAudit", _doc(_allow(
        {"AWS": f"arn:aws:iam::{VENDOR_ACCOUNT}:root"}, {"StringEquals": {"sts:ExternalId": VENDOR_EXTERNAL_ID}}))))  # fmt: skip
    out.append(("shared-services", "GitHubActionsCI", _doc(_allow(
        {"Federated": org.oidc_provider},
        {"StringEquals": {"token.actions.githubusercontent.com:aud": "sts.amazonaws.com"},
         "StringLike": {"token.actions.githubusercontent.com:sub": "repo:example-org/*"}},
        "sts:AssumeRoleWithWebIdentity"))))  # fmt: skip
    for w in org.functions[:5]:  # execution roles: lambda.amazonaws.com is their principal
        name = next(n for n, a in acc.items() if a == w.account)
        out.append((name, w.role, _doc(_allow({"Service": "lambda.amazonaws.com"}))))
    return out


def _doc(*statements: dict) -> dict:
    return {"Version": "2012-10-17", "Statement": list(statements)}


def _admin(org: _Org, account: str) -> dict:
    # Terraform applies IAM changes with each account's own deployment user
    return iam_user(account, "terraform-iam", "AKIA" + _stable_id("TF", account)[4:20])


def trust_policies(org: _Org, out: list[dict], d: int, day0: datetime) -> None:
    """Day 0: every role's CreateRole. On TIGHTENING_DAYS: a ReadOnlyAudit gains a condition."""
    rng = org._rng(d, "trust")
    if d == 0:
        for i, (name, role, doc) in enumerate(policies(org)):
            t = day0 + timedelta(minutes=1 + i, seconds=rng.randint(0, 50))
            out.append(
                trust_change(t, _admin(org, org.acc[name]), org.acc[name], role, doc, create=True, rng=rng)
            )
    if d in TIGHTENING_DAYS:
        name = TIGHTENED[TIGHTENING_DAYS.index(d)]
        doc = dict(next(p for a, r, p in policies(org) if (a, r) == (name, "ReadOnlyAudit")))
        st = dict(doc["Statement"][0])
        auditors = f"arn:aws:iam::{org.acc['security']}:role/aws-reserved/sso.amazonaws.com/*"
        st["Condition"] = {**st["Condition"], "ArnLike": {"aws:PrincipalArn": auditors}}
        doc["Statement"] = [st]
        t = day0 + timedelta(hours=15, seconds=rng.randint(0, 3000))
        out.append(trust_change(t, _admin(org, org.acc[name]), org.acc[name], "ReadOnlyAudit", doc, rng=rng))


def vendor(org: _Org, out: list[dict], d: int, day0: datetime) -> None:
    """The audit vendor assumes data:VendorAudit twice a day, always with the same external id."""
    rng = org._rng(d, "vendor")
    who = iam_user(VENDOR_ACCOUNT, "audit-scanner", "AKIA" + _stable_id("VK", VENDOR_ACCOUNT)[4:20])
    net = VENDOR_CIDR.rsplit(".", 1)[0]
    for hour in (6, 18):
        t = day0 + timedelta(hours=hour, seconds=rng.randint(0, 1800))
        got = assume_role(
            t, who, org.spec.role_arn("data", "VendorAudit"), "vendor-audit", external_id=VENDOR_EXTERNAL_ID,
            duration_seconds=900, source_ip=f"{net}.{130 + rng.randrange(100)}", user_agent="Boto3/1.34.42",
            region=org.home, rng=rng,
        )  # fmt: skip
        # the caller's copy is written to the vendor's own trail, not to the organization's
        out += [r for r in got.records if r["recipientAccountId"] != VENDOR_ACCOUNT]


def expectations(spec) -> dict:
    """The organization's intent as roletrail config: [organization] and [[roles]] entries its
    benign traffic keeps (the exporter broker, the vendor's external id, CI's OIDC subjects)."""
    acc = spec.accounts
    return {
        "organization": {"accounts": sorted(acc.values())},
        "roles": [
            {
                "arn": "arn:aws:iam::*:role/ExportRole",
                "source_identity": "exporter-svc",
                "session_policy": True,
                "max_duration_seconds": 900,
                "caller_accounts": [acc["shared-services"]],
                "session_tags": {"env": ["prod"]},
            },
            {
                "arn": "arn:aws:iam::*:role/VendorAudit",
                "external_id": True,
                "caller_accounts": [VENDOR_ACCOUNT],
            },
            {"arn": "arn:aws:iam::*:role/GitHubActionsCI", "web_identity_subjects": ["repo:example-org/*"]},
        ],
    }


def expectations_toml(s) -> str:
    """``expectations`` as roletrail.toml text (the demo writes it into its config)."""

    def value(v):
        if isinstance(v, dict):
            return "{ " + ", ".join(f"{json.dumps(k)} = {value(x)}" for k, x in v.items()) + " }"
        return json.dumps(v)

    exp = expectations(s)
    lines = ["[organization]", f"accounts = {value(exp['organization']['accounts'])}"]
    for role in exp["roles"]:
        lines += ["", "[[roles]]"] + [f"{k} = {value(v)}" for k, v in role.items()]
    return "\n".join(lines) + "\n"
