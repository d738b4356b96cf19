"""userIdentity blocks as CloudTrail writes them, one function per identity type."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from .common import DEFAULT_START, _stable_id, _ts, _utc


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
