import datetime as dt

from detectors.base import Detector, Param

DETECTOR = Detector(
    id="missing_source_identity",
    title="Missing source identity",
    severity="high",
    attack=("T1078.004", "T1550.001"),
    description=(
        "A successful assume of a role whose trust policy requires sts:SourceIdentity "
        "([source_identity] required) without one, or with one not matching the expected pattern; "
        "and, learned, an assume without a source identity of a role whose last N successful "
        "assumes all carried one."
    ),
    runbook=(
        "Run `roletrail chain <event id>` to see which identity assumed the role and from where.",
        "Check the role's trust policy still has the sts:SourceIdentity condition; a missing "
        "condition means the session was allowed without attribution.",
        "Ask the caller's owner why the session was started without a source identity; if "
        "unexplained, revoke the role's active sessions (AWSRevokeOlderSessions).",
    ),
    false_positives=(
        "Break-glass or automation roles that legitimately start sessions without a source identity.",
        "A source identity pattern in the config that no longer matches a renamed service account.",
    ),
    params=(
        Param(
            "learned_min_streak",
            20,
            "successful assumes with a source identity before one without is flagged",
            low=3,
            high=10_000,
        ),
    ),
    lookback=dt.timedelta(days=30),
    baseline="learned: the role's successful assumes in the last 30 days, keyed on the role ARN",
)
