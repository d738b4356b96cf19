import datetime as dt

from detectors.base import Detector, Param

DETECTOR = Detector(
    id="trail_delivery_gap",
    title="Trail delivery gap",
    severity="high",
    attack=("T1562.008",),
    description=(
        "An account and region whose CloudTrail log files stop for longer than the longest quiet "
        "spell of its own last 14 days (times factor, at least min_gap_minutes): a stopped, "
        "deleted or redirected trail, even when the StopLogging record is lost. Learned from the "
        "times in the log files' keys (ingest_manifest), so it runs on the DuckDB store only. "
        "Reported once per gap; a gap still open is updated when files arrive again."
    ),
    runbook=(
        "Check the trail (`aws cloudtrail get-trail-status`): IsLogging, LatestDeliveryTime, "
        "LatestDeliveryError; look for trail_tampering alerts in the same account.",
        "Run `roletrail verify` over the period: digests name every file CloudTrail delivered, "
        "so deleted log files show as missing.",
        "If the trail was stopped on purpose, record why; otherwise restore it and investigate "
        "who could change it.",
    ),
    false_positives=(
        "A region that is used rarely: its quiet spells grow beyond the baseline (raise factor "
        "or min_gap_minutes, or disable the detector for it with a suppression on the account).",
        "Ingest that skipped a period (--since later than the last run) looks like a gap.",
        "Holidays in accounts with people-driven traffic only.",
    ),
    params=(
        Param("min_gap_minutes", 120, "no gap shorter than this is reported", low=15, high=10080),
        Param(
            "factor",
            1.5,
            "a gap must exceed the stream's longest quiet spell in the baseline by this factor",
            low=1.0,
            high=100.0,
        ),
        Param(
            "min_history_days",
            7,
            "days of files a stream needs before its gaps are judged",
            low=1,
            high=13,
        ),
    ),
    # two weeks hold two weekends: a weekday's gap is judged against the weekend's quiet too
    lookback=dt.timedelta(days=14),
    baseline="longest gap between log files of the account and region in the 14 days before",
)
