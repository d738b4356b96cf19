import datetime as dt

from detectors.base import Detector, Param

DETECTOR = Detector(
    id="new_federated_subject",
    title="New federated subject",
    severity="medium",
    attack=("T1078.004", "T1606.002"),
    description=(
        "An AssumeRoleWithWebIdentity whose subject (responseElements.subjectFromWebIdentityToken, "
        "e.g. GitHub Actions' repo:org/app:ref:refs/heads/main), or an AssumeRoleWithSAML whose "
        "subject and issuer, were never seen for the role in the baseline window, once the role has "
        "history: a new repository, branch, environment or identity provider can now act as the "
        "role. A [[roles]] entry with web_identity_subjects makes the subjects an expectation "
        "(role_expectation_violated) instead."
    ),
    runbook=(
        "Run `roletrail chain <event id>` to see what the federated session did.",
        "For an OIDC subject: which repository, branch or environment is it, and does the trust "
        "policy's token.actions.githubusercontent.com:sub condition mean to allow it? A wildcard "
        "(repo:org/*) lets every repository and pull request of the organization in.",
        "For SAML: a new issuer is a new identity provider trusted by the role; confirm it is yours.",
    ),
    false_positives=(
        "A new repository or deployment environment adopting the role.",
        "A new employee signing in through SAML for the first time.",
    ),
    params=(
        Param(
            "min_history_assumes",
            5,
            "federated assumes of the role in the baseline window before subjects are judged",
            low=1,
            high=100_000,
        ),
        Param(
            "min_history_days",
            7,
            "days the role must have been seen before subjects are judged",
            low=0,
            high=365,
        ),
    ),
    lookback=dt.timedelta(days=30),
    baseline="OIDC subjects (SAML: subject and issuer) of the role's assumes in the last 30 days, keyed on the role ARN",
)
