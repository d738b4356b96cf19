from detectors.base import Detector, Param

DETECTOR = Detector(
    id="trail_tampering",
    title="Trail tampering",
    severity="high",
    attack=("T1562.008", "T1070"),
    description=(
        "CloudTrail stopped (StopLogging) or deleted (critical), or changed to log less: UpdateTrail "
        "turning off multi-region, log file validation or global events, or moving the logs to "
        "another bucket; PutEventSelectors excluding management events or narrowing read/write; "
        "PutInsightSelectors removing Insights; and DeleteBucketPolicy / PutBucketLifecycle on a "
        "trail bucket named in trail_buckets. Successful calls only."
    ),
    runbook=(
        "Run `roletrail chain <event id>` to see who made the call and through which roles.",
        "Restore the trail at once (StartLogging, the previous selectors or settings), then run "
        "`roletrail verify` over the period to see whether log files were deleted or altered.",
        "Treat the caller's credentials as compromised unless a change ticket covers the call; "
        "review what the same session did before and after.",
    ),
    false_positives=(
        "Planned trail migrations (a new bucket, an organization trail replacing account trails).",
        "Cost work that narrows data events or selectors on purpose; lifecycle rules put by the "
        "team that owns the trail bucket.",
    ),
    # which bucket is the trail's is not in the S3 calls themselves: it has to be configured
    params=(
        Param(
            "trail_buckets",
            (),
            "the buckets CloudTrail writes to: their DeleteBucketPolicy and PutBucketLifecycle are flagged",
            item_pattern=r"[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]",
        ),
    ),
)
