import datetime as dt

from detectors.base import Detector, Param

DETECTOR = Detector(
    id="new_caller_account",
    title="New caller account",
    severity="medium",
    attack=("T1199", "T1078.004"),
    description=(
        "The first time in the baseline window that an account assumes a role in another account. "
        'Expected pairs can be allowed in config (expected_pairs = ["<caller account>><role account '
        'or role ARN>"]).'
    ),
    runbook=(
        "Run `roletrail chain <event id>` to see which identity in the caller account made the call.",
        "Confirm with the role's owner that the caller account is meant to be trusted: a vendor, a "
        "new workload, or an account that was just added to the organization.",
        "If not expected, remove the account from the role's trust policy and review what the session did.",
    ),
    false_positives=(
        "New accounts joining the organization.",
        "New vendor integrations (add them to expected_pairs).",
    ),
    params=(
        Param(
            "min_history_days",
            7,
            "days of history the role's account needs before a pair can be new",
            low=0,
            high=365,
        ),
        Param(
            "expected_pairs",
            (),
            'allowed pairs: "<caller account>><role account or role ARN>"',
            item_pattern=r"\d{12}>(\d{12}|arn:aws[a-z-]*:iam::\d{12}:role/\S+)",
        ),
    ),
    lookback=dt.timedelta(days=30),
    baseline="(caller account, role account) pairs seen in the last 30 days",
)
