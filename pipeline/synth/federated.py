"""Federated sign-ins: sts:AssumeRoleWithSAML (IAM Identity Center) and
sts:AssumeRoleWithWebIdentity (OIDC, e.g. GitHub Actions)."""

from __future__ import annotations

import base64
import hashlib
import random
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from .common import (
    SSO_AUDIENCE,
    UA_BROWSER,
    UA_GITHUB,
    _derived_rng,
    _record,
    _split_role_arn,
    _ts,
    _utc,
    _uuid,
)
from .identities import saml_identity, web_identity
from .records import AssumeResult, _issue


def _session_params(params, source_identity, principal_tags, transitive_tag_keys, duration_seconds) -> None:
    """The session parameters both federated calls take, in the order CloudTrail writes them."""
    if source_identity is not None:
        params["sourceIdentity"] = source_identity
    if principal_tags:
        params["principalTags"] = dict(principal_tags)
    if transitive_tag_keys:
        params["transitiveTagKeys"] = list(transitive_tag_keys)
    params["durationSeconds"] = duration_seconds


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
    _session_params(params, source_identity, principal_tags, transitive_tag_keys, duration_seconds)
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
    _session_params(params, source_identity, principal_tags, transitive_tag_keys, duration_seconds)
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
