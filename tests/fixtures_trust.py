"""Fixture cases of the trust-policy and session-expectation detectors (written by make_fixtures.py)."""

from __future__ import annotations

import json
import random
from datetime import timedelta

from make_fixtures import CI, CORP_IP, OUTSIDE, PROD, UA, assume, at, case, history, user

from pipeline import synth

ORG = {"organization": {"accounts": [CI, PROD, "333333333333"]}}
ADMIN = user("iam-admin", PROD)
VENDOR_ROLE = f"arn:aws:iam::{PROD}:role/VendorAudit"


def policy(*statements):
    return {"Version": "2012-10-17", "Statement": list(statements)}


def allow(principal, condition=None, action="sts:AssumeRole"):
    st = {"Effect": "Allow", "Principal": principal, "Action": action}
    if condition:
        st["Condition"] = condition
    return st


def trust_change(t, role_name, doc, *, create=False, error=None, text=None, rng=None):
    """CreateRole / UpdateAssumeRolePolicy of a PROD role by the IAM admin (synth's factory)."""
    return synth.trust_change(
        t, ADMIN, PROD, role_name, doc, create=create, text=text, source_ip=CORP_IP, user_agent=UA,
        error_code=error, rng=rng or random.Random(str(t) + role_name),
    )  # fmt: skip


def trust_policy_weakened():
    d = "trust_policy_weakened"
    ci_root = allow({"AWS": f"arn:aws:iam::{CI}:root"})
    vendor = allow(
        {"AWS": f"arn:aws:iam::{OUTSIDE}:root"}, {"StringEquals": {"sts:ExternalId": "vendor-7f3a"}}
    )
    created = trust_change(at(0), "CrossAccountDeploy", policy(ci_root), create=True)

    def update(doc, **kw):
        return [created, trust_change(at(3), "CrossAccountDeploy", doc, **kw)]

    case(
        d,
        "wildcard_without_condition",
        'The role is changed to trust "*" with no condition: anyone can assume it.',
        update(policy(allow("*"))),
        [{"severity": "critical", "details.rules": ["wildcard_principal"], "caller_arn": ADMIN["arn"]}],
        config=ORG,
    )
    case(
        d,
        "aws_wildcard_principal",
        '{"AWS": "*"} is the same as "*".',
        update(policy(allow({"AWS": "*"}))),
        [{"severity": "critical", "details.rules": ["wildcard_principal"]}],
        config=ORG,
    )
    case(
        d,
        "wildcard_with_org_condition",
        '"*" narrowed by aws:PrincipalOrgID: only the organization\'s principals.',
        update(policy(allow("*", {"StringEquals": {"aws:PrincipalOrgID": "o-a1b2c3d4e5"}}))),
        [],
        config=ORG,
    )
    case(
        d,
        "wildcard_with_a_condition_that_does_not_narrow",
        '"*" with only aws:MultiFactorAuthPresent: any account\'s MFA user still gets in (high, not critical).',
        update(policy(allow("*", {"Bool": {"aws:MultiFactorAuthPresent": "true"}}))),
        [{"severity": "high", "details.rules": ["wildcard_principal"]}],
        config=ORG,
    )
    case(
        d,
        "external_account_without_external_id",
        "A new role trusts an account outside the organization with no sts:ExternalId.",
        [
            trust_change(
                at(3), "VendorAudit", policy(allow({"AWS": f"arn:aws:iam::{OUTSIDE}:root"})), create=True
            )
        ],
        [
            {
                "severity": "high",
                "role_arn": VENDOR_ROLE,
                "details.rules": ["external_account_without_external_id"],
                "details.change": "CreateRole",
            }
        ],
        config=ORG,
    )
    case(
        d,
        "external_account_with_external_id",
        "The vendor's role requires sts:ExternalId: as it should be.",
        [trust_change(at(3), "VendorAudit", policy(vendor), create=True)],
        [],
        config=ORG,
    )
    case(
        d,
        "principal_as_bare_account_id_and_role_arn",
        "Principals written as a bare account id and as a role ARN resolve to their (outside) account.",
        [
            trust_change(
                at(3),
                "VendorAudit",
                policy(allow({"AWS": [OUTSIDE, "arn:aws:iam::888888888888:role/Scanner"]})),
                create=True,
            )
        ],  # fmt: skip
        [{"severity": "high", "details.rules": ["external_account_without_external_id"]}],
        config=ORG,
    )
    case(
        d,
        "external_id_dropped",
        "The vendor's statement loses its sts:ExternalId condition (the confused-deputy guard).",
        [
            trust_change(at(0), "VendorAudit", policy(vendor), create=True),
            trust_change(at(3), "VendorAudit", policy(allow({"AWS": f"arn:aws:iam::{OUTSIDE}:root"}))),
        ],
        [
            {
                "severity": "high",
                "details.rules": ["condition_dropped", "external_account_without_external_id"],
                "details.previous_version_id": created_id(
                    trust_change(at(0), "VendorAudit", policy(vendor), create=True)
                ),
            }
        ],
        config=ORG,
    )
    case(
        d,
        "tightening_adds_a_condition",
        "The CI trust gains an aws:PrincipalArn condition: tighter, not a finding.",
        update(policy(allow({"AWS": f"arn:aws:iam::{CI}:root"},
                            {"ArnLike": {"aws:PrincipalArn": f"arn:aws:iam::{CI}:role/GitHubActionsCI"}}))),
        [],
        config=ORG,
    )  # fmt: skip
    case(
        d,
        "principal_added_in_another_account",
        "A second account of the organization is added to the trust: a new principal in another account.",
        update(policy(allow({"AWS": [f"arn:aws:iam::{CI}:root", "arn:aws:iam::333333333333:root"]}))),
        [{"severity": "high", "details.rules": ["principal_added"]}],
        config=ORG,
    )
    case(
        d,
        "service_principal_execution_role",
        "A Lambda execution role trusts lambda.amazonaws.com: ordinary.",
        [trust_change(at(3), "OrderProcessorLambdaRole", policy(allow({"Service": "lambda.amazonaws.com"})),
                      create=True)],
        [],
        config=ORG,
    )  # fmt: skip
    case(
        d,
        "failed_update_is_not_a_version",
        'An UpdateAssumeRolePolicy to "*" that IAM denied changed nothing.',
        update(policy(allow("*")), error="AccessDenied"),
        [],
        config=ORG,
    )
    single = '{\n  "Version": "2012-10-17",\n  "Statement": {\n    "Effect": "Allow",\n\n\t"Principal": "*",\n    "Action": ["sts:AssumeRole", "sts:TagSession"]\n  }\n}\n'
    case(
        d,
        "single_statement_object_with_whitespace",
        "Statement is one object (not a list), the text has tabs and blank lines: still read.",
        update(None, text=single),
        [{"severity": "critical", "details.rules": ["wildcard_principal"]}],
        config=ORG,
    )
    case(
        d,
        "weakness_the_previous_version_had",
        "The role already trusted the outside account without an external id; the update only adds a "
        "condition to the CI statement: nothing new is weakened.",
        [
            trust_change(at(0), "VendorAudit", policy(ci_root, allow({"AWS": OUTSIDE})), create=True),
            trust_change(at(3), "VendorAudit", policy(
                allow({"AWS": f"arn:aws:iam::{CI}:root"}, {"Bool": {"aws:MultiFactorAuthPresent": "true"}}),
                allow({"AWS": OUTSIDE}))),
        ],
        [{"details.change": "CreateRole", "details.rules": ["external_account_without_external_id"]}],
        config=ORG,
    )  # fmt: skip
    trail = assume(at(1), user("alice", CI), f"arn:aws:iam::{PROD}:role/ReadOnlyAudit", "alice").records
    case(
        d,
        "organization_from_the_trail",
        "Without [organization] accounts, the accounts in the trail are the organization: trusting "
        f"{CI} (in the trail) is fine, trusting {OUTSIDE} (not in it) is not.",
        trail
        + [
            trust_change(at(3), "FromCI", policy(allow({"AWS": CI})), create=True),
            trust_change(at(3), "VendorAudit", policy(allow({"AWS": OUTSIDE})), create=True),
        ],
        [{"role_arn": VENDOR_ROLE, "details.rules": ["external_account_without_external_id"]}],
    )


def created_id(record):
    return record["eventID"]


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


def new_federated_subject():
    d = "new_federated_subject"
    rng = random.Random(31)
    provider = f"arn:aws:iam::{PROD}:oidc-provider/{synth.GITHUB_OIDC_HOST}"
    main_branch = "repo:acme/app:ref:refs/heads/main"

    def oidc(t, subject, **kw):
        return synth.assume_role_with_web_identity(t, CI_OIDC_ROLE, provider, subject, rng=rng, **kw).records

    base = [r for i in range(20) for r in oidc(at(i // 2, 9 + i % 8), main_branch)]
    case(
        d,
        "new_oidc_subject_after_history",
        "Twenty deploys from acme/app's main branch, then a pull request's workflow assumes the role.",
        base + oidc(at(11), "repo:acme/app:pull_request") + oidc(at(11, 12), "repo:acme/app:pull_request"),
        [
            {
                "severity": "medium",
                "role_arn": CI_OIDC_ROLE,
                "event_count": 2,
                "details.subject": "repo:acme/app:pull_request",
                "details.federation": "AssumeRoleWithWebIdentity",
            }
        ],
    )
    case(d, "known_subject", "The main branch again.", base + oidc(at(11), main_branch), [])
    case(
        d,
        "new_subject_without_history",
        "On the role's second day nothing is new yet.",
        base[:3] + oidc(at(1, 16), "repo:acme/app:pull_request"),
        [],
    )
    case(
        d,
        "denied_new_subject",
        "The trust policy refused the pull request's token: no session, no finding.",
        base + oidc(at(11), "repo:acme/app:pull_request", error_code="AccessDenied"),
        [],
    )
    case(
        d,
        "subjects_configured_for_the_role",
        "[[roles]] lists web_identity_subjects for the role: a new subject inside the globs is expected, "
        "not learned.",
        base + oidc(at(11), "repo:acme/other:ref:refs/heads/main"),
        [],
        config={"roles": [OIDC]},
    )
    saml_role = f"arn:aws:iam::{PROD}:role/AWSReservedSSO_Admin_0123456789abcdef"
    saml_provider = f"arn:aws:iam::{PROD}:saml-provider/Corp"

    def saml(t, who, issuer="https://idp.example.com/saml"):
        return synth.assume_role_with_saml(t, saml_role, saml_provider, who, issuer=issuer, rng=rng).records

    people = [r for i in range(12) for r in saml(at(i // 2, 9 + i % 8), ("alice", "bob")[i % 2])]
    case(
        d,
        "saml_subject_from_a_new_issuer",
        "alice, known from the corporate IdP, arrives through another issuer: a new identity provider.",
        people + saml(at(11), "alice", issuer="https://evil.example.net/saml"),
        [{"details.federation": "AssumeRoleWithSAML", "details.issuer": "https://evil.example.net/saml"}],
    )
    case(d, "saml_known_subject_and_issuer", "bob signs in again.", people + saml(at(11), "bob"), [])


def main():
    roles_entry_means_source_identity_required()
    trust_policy_weakened()
    role_expectation_violated()
    new_federated_subject()
