"""The STS AssumeRole call and every other API call, as the records CloudTrail writes for them."""

from __future__ import annotations

import random
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any, NamedTuple

from .common import (
    _S3_DATA_EVENTS,
    SESSION_TOKEN,
    _access_key,
    _clone,
    _derived_rng,
    _expiration,
    _record,
    _split_role_arn,
    _stable_id,
    _ts,
    _utc,
    _uuid,
)
from .identities import assumed_role_identity

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
