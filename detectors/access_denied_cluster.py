import datetime as dt

from detectors.base import Detector, Param

DETECTOR = Detector(
    id="access_denied_cluster",
    title="Access denied cluster",
    severity="medium",
    attack=("T1580", "T1078.004"),
    description=(
        "At least N AccessDenied AssumeRole-family calls naming one role ARN within W minutes: "
        "someone probing a trust policy. The role comes from the request (or the error message), "
        "since a denied cross-account call is logged only in the caller's account."
    ),
    runbook=(
        "Run `roletrail chain <event id>` on the first denied call to see the caller.",
        "List who probed: the alert's details name the distinct callers, source IPs and session names.",
        "If the callers are not expected to use the role, investigate their credentials; if they "
        "are, fix the trust policy or the caller's configuration.",
    ),
    false_positives=(
        "A deployment pipeline retrying against a role whose trust policy was just changed.",
        "Tools that enumerate roles on purpose (security scanners) from known accounts.",
    ),
    params=(
        Param(
            "min_events",
            5,
            "denied assumes of one role within the window that make a cluster",
            low=2,
            high=1000,
        ),
        Param("window_minutes", 15, "the window length in minutes", low=1, high=1440),
    ),
    lookback=dt.timedelta(days=1),
)
