"""Fixture cases of role_expectation_violated: [[roles]] expectations and the external id probe
(written by make_fixtures.py through fixtures_trust.main)."""

from __future__ import annotations

import json
import random
from datetime import timedelta

from fixtures_trust import ORG, VENDOR_ROLE
from make_fixtures import CI, OUTSIDE, PROD, assume, at, case, history, user

from pipeline import synth

EXPORT = f"arn:aws:iam::{PROD}:role/ExportRole"
SESSION_POLICY = json.dumps(
    {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "s3:GetObject", "Resource": "*"}]}
)
BROKER = {
    "arn": "arn:aws:iam::*:role/ExportRole",
    "source_identity": "exporter-svc",
    "session_policy": True,
    "max_duration_seconds": 900,
    "caller_accounts": [CI],
    "session_tags": {"env": ["dev", "staging"]},
}
VENDOR_EXPECTATION = {"arn": VENDOR_ROLE, "external_id": True}
CI_OIDC_ROLE = f"arn:aws:iam::{PROD}:role/GitHubActionsCI"
OIDC = {"arn": CI_OIDC_ROLE, "web_identity_subjects": ["repo:acme/*"]}
ROLES = {**ORG, "roles": [BROKER, VENDOR_EXPECTATION, OIDC]}


def with_policy(records, *, arns=False):
    """The call passed a session policy (inline `policy`, or managed `policyArns`)."""
    for r in records:
        if arns:
            r["requestParameters"]["policyArns"] = [{"arn": "arn:aws:iam::aws:policy/AmazonS3ReadOnlyAccess"}]
        else:
            r["requestParameters"]["policy"] = SESSION_POLICY
    return records


def broker(t, *, caller=None, si="exporter-svc", policy=True, duration=900, tags=None, rng=None, **kw):
    recs = assume(
        t, caller or user("exporter"), EXPORT, "export-0b7e2a4c", si=si, duration_seconds=duration,
        tags={"env": "dev"} if tags is None else tags, rng=rng, **kw,
    ).records  # fmt: skip
    return with_policy(recs) if policy else recs


def role_expectation_violated():
    d = "role_expectation_violated"
    rng = random.Random(29)
    case(
        d,
        "broker_meets_every_expectation",
        "ExportRole is assumed as its owner requires: source identity, session policy, 900 s, from "
        "the CI account, env=dev.",
        broker(at(1), rng=rng) + with_policy(broker(at(1, 11), policy=False, rng=rng), arns=True),
        [],
        config=ROLES,
    )
    case(
        d,
        "no_session_policy_and_a_long_session",
        "The broker role is assumed without a session policy, for an hour.",
        broker(at(1), policy=False, duration=3600, rng=rng),
        [
            {
                "severity": "high",
                "role_arn": EXPORT,
                "details.broken": ["session_policy", "max_duration_seconds"],
                "details.longest_duration_seconds": 3600,
                "details.max_duration_seconds": 900,
            }
        ],
        config=ROLES,
    )
    case(
        d,
        "one_alert_per_role_caller_and_day",
        "Three assumes by one caller on one day, each breaking something: one alert naming all of it; "
        "the next day is a second alert.",
        broker(at(1, 9), policy=False, rng=rng)
        + broker(at(1, 12), duration=1800, rng=rng)
        + broker(at(1, 15), tags={"env": "prod"}, rng=rng)
        + broker(at(2, 9), policy=False, rng=rng),
        [
            {"event_count": 3, "details.broken": ["session_policy", "max_duration_seconds", "session_tags"]},
            {"event_count": 1, "details.broken": ["session_policy"]},
        ],
        config=ROLES,
    )
    case(
        d,
        "caller_account_not_allowed",
        "An account of the organization that is not in caller_accounts assumes the broker role.",
        broker(at(1), caller=user("etl", "333333333333"), rng=rng),
        [{"caller_account": "333333333333", "details.broken": ["caller_accounts"]}],
        config=ROLES,
    )
    case(
        d,
        "session_tag_value_outside_its_list",
        "The caller tags its own session env=prod; env may only be dev or staging.",
        broker(at(1), tags={"env": "prod", "team": "data"}, rng=rng),
        [{"details.broken": ["session_tags"], "details.tags_outside_allowed": ["env=prod"]}],
        config=ROLES,
    )
    case(
        d,
        "session_tag_key_in_other_case",
        "STS tag keys are case-insensitive: Env=prod is env=prod.",
        broker(at(1), tags={"Env": "prod"}, rng=rng),
        [{"details.broken": ["session_tags"], "details.tags_outside_allowed": ["env=prod"]}],
        config=ROLES,
    )
    case(
        d,
        "source_identity_alone_is_missing_source_identity",
        "Only the source identity is wrong: that is missing_source_identity's alert, not a second one.",
        broker(at(1), si="someone-else", rng=rng),
        [],
        config=ROLES,
    )
    case(
        d,
        "source_identity_named_with_the_rest",
        "A wrong source identity and no session policy: one alert naming both.",
        broker(at(1), si="someone-else", policy=False, rng=rng),
        [{"details.broken": ["source_identity", "session_policy"], "source_identity": "someone-else"}],
        config=ROLES,
    )
    vendor = user("vendor", OUTSIDE)
    case(
        d,
        "external_id_missing",
        "The vendor role must be assumed with sts:ExternalId; this assume has none.",
        assume(at(1), vendor, VENDOR_ROLE, "vendor", rng=rng).records
        + assume(at(1, 11), vendor, VENDOR_ROLE, "vendor", external_id="vendor-7f3a", rng=rng).records,
        [{"caller_account": OUTSIDE, "event_count": 1, "details.broken": ["external_id"]}],
        config=ROLES,
    )
    provider = f"arn:aws:iam::{PROD}:oidc-provider/{synth.GITHUB_OIDC_HOST}"

    def oidc(t, subject):
        return synth.assume_role_with_web_identity(t, CI_OIDC_ROLE, provider, subject, rng=rng).records

    case(
        d,
        "oidc_subject_outside_the_globs",
        "GitHub Actions of repo:acme/* may assume the CI role; a workflow of another organization does.",
        oidc(at(1), "repo:acme/app:ref:refs/heads/main") + oidc(at(1, 11), "repo:evil/fork:pull_request"),
        [{"details.broken": ["web_identity_subjects"], "details.subjects": ["repo:evil/fork:pull_request"]}],
        config=ROLES,
    )
    case(
        d,
        "denied_assume_is_not_a_session",
        "A denied assume without a session policy issued no session.",
        broker(at(1), policy=False, error="AccessDenied", rng=rng),
        [],
        config=ROLES,
    )
    case(
        d,
        "role_without_expectations",
        "ReadOnlyAudit has no [[roles]] entry: nothing is expected of it.",
        assume(at(1), user(), f"arn:aws:iam::{PROD}:role/ReadOnlyAudit", "alice", duration_seconds=43200,
               rng=rng).records,
        [],
        config=ROLES,
    )  # fmt: skip

    def probe(ids, caller=vendor):
        recs = []
        for i, ext in enumerate(ids):
            recs += assume(
                at(1, 9) + timedelta(minutes=17 * i),
                caller,
                VENDOR_ROLE,
                f"vendor-{i}",
                external_id=ext,
                rng=rng,
            ).records
        return recs

    case(
        d,
        "external_id_probe",
        "A vendor account outside the organization passes three different external ids for one role "
        "within an hour: the confused-deputy probe.",
        probe(["vendor-7f3a", "cust-0001", "cust-0002", "vendor-7f3a"]),
        [
            {
                "caller_account": OUTSIDE,
                "event_count": 4,
                "details.kind": "external_id_probe",
                "details.distinct_external_ids": 3,
            }
        ],
        config=ROLES,
    )
    case(
        d,
        "one_external_id_is_normal",
        "The vendor always passes the same external id.",
        probe(["vendor-7f3a"] * 5),
        [],
        config=ROLES,
    )
    case(
        d,
        "external_ids_from_an_organization_account",
        "An account of the organization passing two external ids is not a third party.",
        probe(["a-1", "a-2"], caller=user("tool", CI)),
        [],
        config=ROLES,
    )


def roles_entry_means_source_identity_required():
    d = "missing_source_identity"
    alice = user()
    deploy = f"arn:aws:iam::{PROD}:role/PlatformDeploy"
    base = history(deploy, alice, 10, 5, si="alice@example.com")
    case(
        d,
        "roles_entry_with_only_source_identity",
        "A [[roles]] entry with only source_identity means what [source_identity] required means: "
        "the same alert for an assume without one.",
        base + assume(at(6), alice, deploy, "hotfix", rng=random.Random(7)).records,
        [
            {
                "severity": "high",
                "role_arn": deploy,
                "details.kind": "configured",
                "details.required_by": "arn:aws:iam::*:role/PlatformDeploy",
            }
        ],
        config={
            "source_identity": {"required": {}},
            "roles": [{"arn": "arn:aws:iam::*:role/PlatformDeploy", "source_identity": "*@example.com"}],
        },
    )
