"""Fixture cases of the trust-policy and session-expectation detectors (written by make_fixtures.py)."""

from __future__ import annotations

import random

from make_fixtures import CI, CORP_IP, OUTSIDE, PROD, UA, assume, at, case, user

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


def new_federated_subject():
    d = "new_federated_subject"
    rng = random.Random(31)
    provider = f"arn:aws:iam::{PROD}:oidc-provider/{synth.GITHUB_OIDC_HOST}"
    ci_role = f"arn:aws:iam::{PROD}:role/GitHubActionsCI"
    oidc_roles = {"roles": [{"arn": ci_role, "web_identity_subjects": ["repo:acme/*"]}]}
    main_branch = "repo:acme/app:ref:refs/heads/main"

    def oidc(t, subject, **kw):
        return synth.assume_role_with_web_identity(t, ci_role, provider, subject, rng=rng, **kw).records

    base = [r for i in range(20) for r in oidc(at(i // 2, 9 + i % 8), main_branch)]
    case(
        d,
        "new_oidc_subject_after_history",
        "Twenty deploys from acme/app's main branch, then a pull request's workflow assumes the role.",
        base + oidc(at(11), "repo:acme/app:pull_request") + oidc(at(11, 12), "repo:acme/app:pull_request"),
        [
            {
                "severity": "medium",
                "role_arn": ci_role,
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
        config=oidc_roles,
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
    import fixtures_roles  # role_expectation_violated's cases

    fixtures_roles.roles_entry_means_source_identity_required()
    trust_policy_weakened()
    fixtures_roles.role_expectation_violated()
    new_federated_subject()
