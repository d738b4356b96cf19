"""Writes fixtures/<detector id>/<case>.json: CloudTrail records that show one thing, and the
alerts they must produce (or none). Run `python tests/make_fixtures.py` after changing a case;
the files are committed and the tests read them, so a change shows up in review.

A case file: {"description", "config" (roletrail.toml keys), "expect": [alert field subsets],
"Records": [...]}. Records come from pipeline.synth's record factory, seeded, so regenerating
gives the same bytes.
"""

from __future__ import annotations

import json
import random
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from pipeline import synth  # noqa: E402

OUT = Path(__file__).resolve().parent.parent / "fixtures"
T0 = datetime(2024, 5, 1, tzinfo=UTC)  # day 0 of every case's history (a Wednesday)
CI = "111111111111"  # shared-services: callers live here
PROD = "222222222222"  # roles live here
OUTSIDE = "999999999999"  # an account outside the organization
KNOWN = ["198.51.100.0/24", "2001:db8:1234::/48"]
CORP_IP = "198.51.100.20"
UA = "aws-cli/2.15.30 Python/3.11.8 Linux/6.5.0 exe/x86_64"
DEPLOY = f"arn:aws:iam::{PROD}:role/PlatformDeploy"
AUDIT = f"arn:aws:iam::{PROD}:role/ReadOnlyAudit"
BASE_CONFIG = {
    "network": {"known_cidrs": KNOWN},
    "source_identity": {"required": {"arn:aws:iam::*:role/PlatformDeploy": "*@example.com"}},
}


def user(name="alice", account=CI):
    return synth.iam_user(account, name, "AKIA" + name.upper().ljust(16, "X")[:16])


def assume(t, caller, role, session, *, si=None, ip=CORP_IP, error=None, rng=None, **kw):
    res = synth.assume_role(
        t, caller, role, session, source_identity=si, source_ip=ip, user_agent=UA,
        error_code=error, error_message=(
            f"User: {caller.get('arn')} is not authorized to perform: sts:AssumeRole on resource: {role}"
            if error else None
        ), rng=rng, **kw,
    )  # fmt: skip
    return res


def history(role, caller, n, days, *, session="deploy-{i}", si=None, ip=CORP_IP, start=T0, seed=1):
    """n successful assumes of role spread evenly over `days` days from `start`, office hours."""
    rng = random.Random(seed)
    recs = []
    for i in range(n):
        day = start + timedelta(days=(i * days) // n)
        t = day.replace(hour=9 + i % 8, minute=(i * 7) % 60)
        recs += assume(t, caller, role, session.format(i=1000 + i), si=si, ip=ip, rng=rng).records
    return recs


def at(day, hour=10, minute=0):
    return T0 + timedelta(days=day, hours=hour, minutes=minute)


def case(detector, name, description, records, expect, config=None, files=None):
    """`files` (key -> records) are written as log files of their own, for cases that are about
    the files themselves (their keys' times); `records` all go into one file."""
    path = OUT / detector / f"{name}.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    head = {"description": description, "config": {**BASE_CONFIG, **(config or {})}, "expect": expect}
    lines = [json.dumps(head, indent=1)[:-2] + ',\n "Records": [']
    recs = sorted(records, key=lambda r: r["eventTime"])
    lines += [
        json.dumps(r, separators=(",", ":")) + ("," if i < len(recs) - 1 else "") for i, r in enumerate(recs)
    ]
    if files:
        lines.append('],\n "Files": {')
        keys = sorted(files)
        lines += [
            json.dumps(k)
            + ":"
            + json.dumps(files[k], separators=(",", ":"))
            + ("," if i < len(keys) - 1 else "")
            for i, k in enumerate(keys)
        ]
        path.write_text("\n".join(lines) + "\n}}\n")
        return
    path.write_text("\n".join(lines) + "\n]}\n")  # one record per line: readable diffs


def missing_source_identity():
    d = "missing_source_identity"
    alice = user()
    base = history(DEPLOY, alice, 10, 5, si="alice@example.com")
    rng = random.Random(7)
    case(
        d,
        "required_role_without_source_identity",
        "PlatformDeploy requires a source identity (config); alice assumes it without one.",
        base + assume(at(6), alice, DEPLOY, "hotfix", rng=rng).records,
        [
            {
                "severity": "high",
                "role_arn": DEPLOY,
                "session_name": "hotfix",
                "source_identity": None,
                "event_count": 1,
                "details.kind": "configured",
            }
        ],
    )
    case(
        d,
        "required_role_with_matching_source_identity",
        "Every assume of PlatformDeploy carries a source identity matching *@example.com.",
        base + assume(at(6), alice, DEPLOY, "deploy-7", si="alice@example.com", rng=rng).records,
        [],
    )
    case(
        d,
        "required_role_with_wrong_pattern",
        "A source identity is set but does not match the expected pattern *@example.com.",
        base + assume(at(6), alice, DEPLOY, "deploy-8", si="mallory", rng=rng).records,
        [
            {
                "severity": "high",
                "role_arn": DEPLOY,
                "source_identity": "mallory",
                "details.kind": "configured",
            }
        ],
    )
    case(
        d,
        "failed_assume_without_source_identity",
        "A denied assume of the required role is not a session: nothing to flag here.",
        base + assume(at(6), alice, DEPLOY, "x", error="AccessDenied", rng=rng).records,
        [],
    )
    # a chain: alice's SSO-like session carries a source identity into the next hop
    first = assume(at(6), alice, AUDIT, "alice", si="alice@example.com", rng=rng)
    second = assume(at(6, minute=5), first.session, DEPLOY, "alice-deploy", rng=rng)
    case(
        d,
        "source_identity_inherited_through_chain",
        "The second hop does not pass sourceIdentity itself; it inherits it from the calling session.",
        base + first.records + second.records,
        [],
    )
    learned = history(AUDIT, alice, 25, 10, session="audit-{i}", si="alice@example.com")
    case(
        d,
        "learned_role_assumed_without_after_streak",
        "ReadOnlyAudit is not configured, but its last 25 assumes all carried a source identity.",
        learned + assume(at(11), user("bob"), AUDIT, "bob", rng=rng).records,
        [
            {
                "severity": "medium",
                "role_arn": AUDIT,
                "session_name": "bob",
                "details.kind": "learned",
                "details.learned_streak": 25,
            }
        ],
    )
    short = history(AUDIT, alice, 10, 10, session="audit-{i}", si="alice@example.com")
    case(
        d,
        "learned_streak_too_short",
        "Only 10 earlier assumes carried a source identity: below the 20 the learned rule needs.",
        short + assume(at(11), user("bob"), AUDIT, "bob", rng=rng).records,
        [],
    )


def unknown_source_ip():
    d = "unknown_source_ip"
    rng = random.Random(11)

    def one(ip, account=CI, **kw):
        return assume(
            at(1), user("alice", account), AUDIT, "alice", si="alice@example.com", ip=ip, rng=rng, **kw
        ).records

    case(
        d,
        "ipv4_outside_known",
        "A cross-account assume from 203.0.113.9, outside the known CIDRs.",
        one("203.0.113.9"),
        [
            {
                "severity": "high",
                "source_ip": "203.0.113.9",
                "role_arn": AUDIT,
                "caller_account": CI,
                "details.address_status": "unknown",
            }
        ],
    )
    case(d, "ipv4_inside_known", "From the corporate range 198.51.100.0/24.", one("198.51.100.77"), [])
    case(
        d,
        "ipv6_inside_known_range",
        "From 2001:db8:1234:5::10, inside 2001:db8:1234::/48.",
        one("2001:db8:1234:5::10"),
        [],
    )
    case(
        d,
        "ipv6_outside_known",
        "From 2001:db8:9999::1, outside every known range.",
        one("2001:db8:9999::1"),
        [{"severity": "high", "source_ip": "2001:db8:9999::1"}],
    )
    svc = synth.aws_service_identity("events.amazonaws.com")
    case(
        d,
        "service_caller_name",
        "EventBridge assumes a role: sourceIPAddress is a service name, not an address.",
        assume(at(1), svc, f"arn:aws:iam::{PROD}:role/EventsInvoke", "events", rng=rng).records,
        [],
    )
    case(
        d,
        "aws_internal",
        "sourceIPAddress 'AWS Internal' is an AWS-side caller, not an address.",
        one("AWS Internal"),
        [],
    )
    case(
        d,
        "malformed_address",
        "An anonymised, syntactically invalid IPv4 string (as in Stratus Red Team captures).",
        one("06.237.252.245"),
        [{"severity": "low", "source_ip": "06.237.252.245", "details.address_status": "malformed"}],
    )
    case(
        d,
        "comma_separated_list_with_unknown",
        "A proxy-style list (real records have them): one of the addresses is unknown.",
        one("81.2.69.142, 198.51.100.7"),
        [{"severity": "high", "source_ip": "81.2.69.142, 198.51.100.7"}],
    )
    case(
        d,
        "same_account_assume_from_unknown_ip",
        "Not cross-account: out of this detector's scope.",
        assume(at(1), user("alice", PROD), AUDIT, "alice", ip="203.0.113.9", rng=rng).records,
        [],
    )
    case(
        d,
        "expired_suppression",
        "A suppression for this address expired in 2020: it no longer applies.",
        one("203.0.113.9"),
        [{"severity": "high", "status": "open"}],
        config={
            "suppressions": [
                {
                    "detector": d,
                    "source_ip": "203.0.113.0/24",
                    "reason": "old vendor range",
                    "expires": "2020-01-01",
                }
            ]
        },
    )
    case(
        d,
        "active_suppression",
        "A current suppression matches: the finding is recorded as suppressed.",
        one("203.0.113.9"),
        [{"severity": "high", "status": "suppressed", "suppression_reason": "vendor VPN until migration"}],
        config={
            "suppressions": [
                {
                    "detector": d,
                    "source_ip": "203.0.113.0/24",
                    "role_arn": "*:role/ReadOnly*",
                    "reason": "vendor VPN until migration",
                    "expires": "2099-01-01",
                }
            ]
        },
    )


def access_denied_cluster():
    d = "access_denied_cluster"
    rng = random.Random(13)
    target = f"arn:aws:iam::{PROD}:role/OrganizationAccountAccessRole"

    def probes(n, spacing_minutes, role=target, callers=("mallory",)):
        recs = []
        for i in range(n):
            who = user(callers[i % len(callers)], OUTSIDE)
            recs += assume(
                at(1, minute=0) + timedelta(minutes=i * spacing_minutes),
                who,
                role,
                f"probe{i}",
                ip=f"192.0.2.{10 + i}",
                error="AccessDenied",
                rng=rng,
            ).records
        return recs

    case(
        d,
        "five_denied_in_ten_minutes",
        "Five AccessDenied assumes of one role within 10 minutes.",
        probes(5, 2),
        [
            {
                "severity": "high",
                "role_arn": target,
                "event_count": 5,
                "details.distinct_source_ips": 5,
                "details.peak_in_window": 5,
            }
        ],
    )
    case(
        d,
        "four_denied_just_below_threshold",
        "Four denied assumes: one below the threshold of 5.",
        probes(4, 2),
        [],
    )
    case(
        d,
        "five_denied_spread_over_two_hours",
        "Five denied assumes, 30 minutes apart: never 5 in 15 minutes.",
        probes(5, 30),
        [],
    )
    other = []
    for i, name in enumerate(["A", "B", "C", "D", "E"]):
        other += probes(1, 1, role=f"arn:aws:iam::{PROD}:role/Role{name}")[:1]
        other[-1]["eventTime"] = (at(1) + timedelta(minutes=i)).strftime("%Y-%m-%dT%H:%M:%SZ")
    case(d, "denied_on_different_roles", "Five denied assumes, each naming a different role.", other, [])


def new_caller_account():
    d = "new_caller_account"
    rng = random.Random(17)
    base = history(AUDIT, user(), 30, 10, session="alice", si="alice@example.com")
    stranger = user("vendor", OUTSIDE)
    new = assume(at(11), stranger, AUDIT, "vendor", ip=CORP_IP, rng=rng).records
    case(
        d,
        "new_account_pair",
        "Account 999999999999 assumes a role in 222222222222 for the first time.",
        base + new,
        [{"severity": "medium", "caller_account": OUTSIDE, "account_id": PROD, "role_arn": AUDIT}],
    )
    case(
        d,
        "known_pair",
        "Account 111111111111 has assumed roles in 222222222222 for ten days.",
        base + assume(at(11), user(), AUDIT, "alice", si="alice@example.com", rng=rng).records,
        [],
    )
    case(
        d,
        "allowlisted_pair",
        "The pair is listed in expected_pairs.",
        base + new,
        [],
        config={"detectors": {d: {"expected_pairs": [f"{OUTSIDE}>{PROD}"]}}},
    )
    case(
        d,
        "not_enough_history",
        "On the role account's second day nothing can be called new yet.",
        base[:4] + assume(at(1), stranger, AUDIT, "vendor", ip=CORP_IP, rng=rng).records,
        [],
    )


def novel_session_name():
    d = "novel_session_name"
    rng = random.Random(19)
    ci = user("ci-bot")
    base = history(DEPLOY, ci, 30, 10, session="deploy-{i}", si="ci@example.com")
    case(
        d,
        "new_shape_after_history",
        "After 30 deploy-<n> sessions, one named 'mallory-test'.",
        base + assume(at(11), ci, DEPLOY, "mallory-test", si="ci@example.com", rng=rng).records,
        [
            {
                "severity": "medium",
                "role_arn": DEPLOY,
                "session_name": "mallory-test",
                "details.shape": "mallory-test",
            }
        ],
    )
    case(
        d,
        "same_shape_new_number",
        "deploy-98765 has the known shape deploy-{n}.",
        base + assume(at(11), ci, DEPLOY, "deploy-98765", si="ci@example.com", rng=rng).records,
        [],
    )
    uuid_hist = history(DEPLOY, ci, 30, 10, session="export-{i}", si="ci@example.com")
    for r in uuid_hist:  # export-<uuid>
        if r["eventName"] == "AssumeRole":
            r["requestParameters"]["roleSessionName"] = "export-" + r["eventID"]
    case(
        d,
        "uuid_names_are_one_shape",
        "export-<uuid> sessions; another uuid is not new.",
        uuid_hist
        + assume(
            at(11), ci, DEPLOY, "export-0b7e2a4c-1d2e-4f5a-8b9c-0d1e2f3a4b5c", si="ci@example.com", rng=rng
        ).records,
        [],
    )
    case(
        d,
        "new_shape_without_enough_history",
        "Only 5 earlier assumes: too little history to judge.",
        base[:10] + assume(at(11), ci, DEPLOY, "mallory-test", si="ci@example.com", rng=rng).records,
        [],
    )


def assume_role_volume_spike():
    d = "assume_role_volume_spike"
    rng = random.Random(23)
    ci = user("ci-bot")
    base = []
    for day in range(14):
        for hour in range(9, 17):
            for k in range(2 + (day + hour) % 4):  # 2-5 per office hour
                base += assume(
                    at(day, hour, k * 9), ci, DEPLOY, f"deploy-{day}{hour}{k}", si="ci@example.com", rng=rng
                ).records
    spike = []
    for k in range(200):
        spike += assume(
            at(14, 11) + timedelta(seconds=k * 15), ci, DEPLOY, f"deploy-x{k}", si="ci@example.com", rng=rng
        ).records
    case(
        d,
        "spike_hour",
        "200 assumes in one hour against a baseline of 2-5 per office hour.",
        base + spike,
        [
            {
                "severity": "high",
                "role_arn": DEPLOY,
                "event_count": 200,
                "details.anomalous_feature": "assumes",
                "details.trigger": "robust",
            }
        ],
    )
    busy = [
        r
        for k in range(6)
        for r in assume(at(14, 11, k * 5), ci, DEPLOY, f"deploy-b{k}", si="ci@example.com", rng=rng).records
    ]
    case(d, "busy_but_normal_hour", "6 assumes in an hour: within the role's usual range.", base + busy, [])
    quiet = [
        r
        for k in range(3)
        for r in assume(
            at(14, 3, k), user("ops"), f"arn:aws:iam::{PROD}:role/Quiet", f"ops-{k}", rng=rng
        ).records
    ]
    case(
        d,
        "quiet_role_zero_to_three",
        "A role with no history goes from 0 to 3: below the floor.",
        base + quiet,
        [],
    )
    ips = [
        r
        for k in range(8)
        for r in assume(
            at(14, 11, k * 5),
            user(f"u{k}"),
            DEPLOY,
            f"deploy-i{k}",
            si="ci@example.com",
            ip=f"198.51.100.{100 + k}",
            rng=rng,
        ).records
    ]
    case(
        d,
        "many_callers_and_ips",
        "8 assumes (a normal count) from 8 callers and 8 addresses, where one "
        "caller from one address is the rule: the model flags it and names the feature.",
        base + ips,
        [{"severity": "medium", "role_arn": DEPLOY, "details.trigger": "model"}],
    )


def trail_tampering():
    d = "trail_tampering"
    rng = random.Random(29)
    admin = synth.assumed_role_identity(PROD, "Admin", "mallory", "ASIAMALLORYEXAMPLE01")
    trail_arn = f"arn:aws:cloudtrail:us-east-1:{PROD}:trail/org-trail"
    bucket = "org-trail-bucket"

    def call(name, params, source="cloudtrail.amazonaws.com", error=None, minute=0):
        return synth.api_call(
            at(3, 14, minute), admin, source, name, PROD, "us-east-1", "203.0.113.50", UA, params,
            read_only=False, error_code=error, rng=rng,
        )  # fmt: skip

    def one(name, description, records, expect, config=None):
        case(d, name, description, records, expect, config)

    one(
        "stop_logging",
        "StopLogging on the organization trail by an assumed Admin role (as in Stratus Red Team).",
        [call("StopLogging", {"name": trail_arn})],
        [
            {
                "severity": "critical",
                "account_id": PROD,
                "session_name": "mallory",
                "details.reduction": "logging stopped",
            }
        ],
    )
    one(
        "delete_trail",
        "DeleteTrail, as in Panther's and Stratus Red Team's samples.",
        [call("DeleteTrail", {"name": "org-trail"})],
        [{"severity": "critical", "details.trail": "org-trail", "details.reduction": "trail deleted"}],
    )
    one(
        "stop_logging_denied",
        "A StopLogging attempt that was denied changed nothing.",
        [call("StopLogging", {"name": trail_arn}, error="AccessDenied")],
        [],
    )
    one(
        "update_trail_single_region_without_validation",
        "UpdateTrail turns off multi-region logging and log file validation.",
        [
            call(
                "UpdateTrail",
                {"name": "org-trail", "isMultiRegionTrail": False, "enableLogFileValidation": False},
            )
        ],
        [
            {
                "severity": "high",
                "details.reduction": "multi-region logging turned off, log file validation turned off",
            }
        ],
    )
    one(
        "update_trail_new_bucket",
        "UpdateTrail sends the logs to another bucket.",
        [call("UpdateTrail", {"name": "org-trail", "s3BucketName": "attacker-logs"})],
        [{"severity": "high", "details.reduction": "logs sent to bucket attacker-logs"}],
    )
    one(
        "update_trail_that_keeps_coverage",
        "UpdateTrail that turns validation on and keeps the trail multi-region.",
        [
            call(
                "UpdateTrail",
                {"name": "org-trail", "isMultiRegionTrail": True, "enableLogFileValidation": True},
            )
        ],
        [],
    )
    data_only = {
        "trailName": "org-trail",
        "eventSelectors": [
            {
                "readWriteType": "ReadOnly",
                "includeManagementEvents": False,
                "dataResources": [{"type": "AWS::S3::Object", "values": []}],
                "excludeManagementEventSources": [],
            }
        ],
    }
    one(
        "event_selectors_exclude_management_events",
        "PutEventSelectors without management events, read-only (the Stratus Red Team technique).",
        [call("PutEventSelectors", data_only)],
        [
            {
                "severity": "high",
                "details.reduction": "management events excluded, only read-only or write-only events",
            }
        ],
    )
    full = {
        "trailName": "org-trail",
        "eventSelectors": [
            {
                "readWriteType": "All",
                "includeManagementEvents": True,
                "dataResources": [],
                "excludeManagementEventSources": [],
            }
        ],
    }
    one(
        "event_selectors_all_management_events",
        "PutEventSelectors keeping every management event.",
        [call("PutEventSelectors", full)],
        [],
    )
    one(
        "event_selectors_excluding_kms",
        "PutEventSelectors that drops KMS management events.",
        [
            call(
                "PutEventSelectors",
                {
                    **full,
                    "eventSelectors": [
                        {**full["eventSelectors"][0], "excludeManagementEventSources": ["kms.amazonaws.com"]}
                    ],
                },
            )
        ],
        [{"details.reduction": "management event sources excluded"}],
    )
    advanced_data = {
        "trailName": "org-trail",
        "advancedEventSelectors": [
            {"name": "S3 only", "fieldSelectors": [
                {"field": "eventCategory", "equals": ["Data"]}, {"field": "resources.type", "equals": ["AWS::S3::Object"]},
            ]}
        ],
    }  # fmt: skip
    one(
        "advanced_selectors_without_management",
        "Advanced event selectors that log S3 data events only.",
        [call("PutEventSelectors", advanced_data)],
        [{"details.reduction": "advanced selectors without management events"}],
    )
    advanced_mgmt = {
        "trailName": "org-trail",
        "advancedEventSelectors": [
            {"name": "Management", "fieldSelectors": [{"field": "eventCategory", "equals": ["Management"]}]}
        ],
    }
    one(
        "advanced_selectors_with_management",
        "Advanced event selectors that keep every management event.",
        [call("PutEventSelectors", advanced_mgmt)],
        [],
    )
    one(
        "insight_selectors_removed",
        "PutInsightSelectors with an empty list turns Insights off.",
        [call("PutInsightSelectors", {"trailName": "org-trail", "insightSelectors": []})],
        [{"severity": "high", "details.reduction": "Insights turned off"}],
    )
    one(
        "insight_selectors_added",
        "PutInsightSelectors that turns on API call rate Insights.",
        [
            call(
                "PutInsightSelectors",
                {"trailName": "org-trail", "insightSelectors": [{"insightType": "ApiCallRateInsight"}]},
            )
        ],
        [],
    )
    lifecycle = {
        "bucketName": bucket,
        "Host": f"{bucket}.s3.us-east-1.amazonaws.com",
        "LifecycleConfiguration": {"Rule": {"ID": "nuke", "Status": "Enabled", "Filter": {"Prefix": ""}, "Expiration": {"Days": 1}}},
        "lifecycle": "",
    }  # fmt: skip
    trail_bucket = {"detectors": {d: {"trail_buckets": [bucket]}}}
    one(
        "lifecycle_on_trail_bucket",
        "A one-day expiration rule on the trail bucket named in config (as in Panther's sample).",
        [call("PutBucketLifecycle", lifecycle, source="s3.amazonaws.com")],
        [
            {
                "severity": "high",
                "details.bucket": bucket,
                "details.reduction": "lifecycle rule put on the trail bucket",
            }
        ],
        config=trail_bucket,
    )
    one(
        "lifecycle_on_other_bucket",
        "The same rule on a bucket that is not a trail bucket.",
        [
            call(
                "PutBucketLifecycle", {**lifecycle, "bucketName": "scratch-bucket"}, source="s3.amazonaws.com"
            )
        ],
        [],
        config=trail_bucket,
    )
    one(
        "lifecycle_without_trail_buckets_configured",
        "Without trail_buckets the detector cannot know which bucket is the trail's.",
        [call("PutBucketLifecycle", lifecycle, source="s3.amazonaws.com")],
        [],
    )
    one(
        "bucket_policy_deleted",
        "DeleteBucketPolicy on the trail bucket: CloudTrail can no longer write to it.",
        [
            call(
                "DeleteBucketPolicy",
                {"bucketName": bucket, "Host": f"{bucket}.s3.amazonaws.com", "policy": ""},
                source="s3.amazonaws.com",
            )
        ],
        [{"severity": "high", "details.reduction": "trail bucket policy deleted"}],
        config=trail_bucket,
    )


def trail_delivery_gap():
    d = "trail_delivery_gap"
    rng = random.Random(31)
    who = user("ci-bot")

    def stream(account, region, hours, every=2, skip=()):
        """One log file every `every` hours over `hours` hours from T0, except the hours in `skip`."""
        return files_at(account, region, [h for h in range(0, hours, every) if h not in skip])

    def files_at(account, region, hours):
        files = {}
        for h in hours:
            t = T0 + timedelta(hours=h)
            key = (
                f"AWSLogs/{account}/CloudTrail/{region}/{t:%Y/%m/%d}/"
                f"{account}_CloudTrail_{region}_{t:%Y%m%dT%H%M}Z_{rng.getrandbits(64):016X}.json.gz"
            )
            rec = synth.api_call(
                t + timedelta(minutes=1), who, "ec2.amazonaws.com", "DescribeInstances", account, region,
                CORP_IP, UA, rng=rng,
            )  # fmt: skip
            files[key] = [rec]
        return files

    day8 = 8 * 24
    gap = set(range(day8 + 10, day8 + 16))  # no files 10:00-15:59 on day 8: 08:00 -> 16:00
    case(
        d,
        "stream_stops_for_eight_hours",
        "A file every 2 hours for 9 days, then none from 08:00 to 16:00 on day 8.",
        [],
        [
            {
                "severity": "high",
                "account_id": PROD,
                "details.region": "us-east-1",
                "details.gap_minutes": 480,
                "details.usual_longest_gap_minutes": 120,
                "details.still_open": False,
            }
        ],
        files=stream(PROD, "us-east-1", 9 * 24, skip=gap),
    )
    case(
        d,
        "regular_stream",
        "A file every 2 hours for 9 days: no gap longer than usual.",
        [],
        [],
        files=stream(PROD, "us-east-1", 9 * 24),
    )
    case(
        d,
        "quiet_stream_within_its_usual_gaps",
        "A file every 6 hours, and once 8 hours of quiet: within 1.5 times its usual 6.",
        [],
        [],
        # every 6 hours, but the file due at 06:00 on day 8 comes at 08:00: spells of 8 and 4 hours
        files=files_at(PROD, "eu-west-1", [h + 2 * (h == day8 + 6) for h in range(0, 9 * 24, 6)]),
    )
    case(
        d,
        "gap_without_enough_history",
        "A stream only 3 days old stops for 8 hours: too little history to know its usual gap.",
        [],
        [],
        files=stream(PROD, "us-east-1", 5 * 24, skip=set(range(3 * 24 + 10, 3 * 24 + 16))),
    )
    open_gap = stream(PROD, "us-east-1", 9 * 24) | stream(CI, "eu-west-1", day8 + 12)
    case(
        d,
        "stream_silent_while_others_deliver",
        "111111111111 eu-west-1 delivers nothing after 10:00 on day 8 while another stream goes on.",
        [],
        [{"account_id": CI, "details.region": "eu-west-1", "details.still_open": True}],
        files=open_gap,
    )


def main():
    for make in (
        missing_source_identity,
        unknown_source_ip,
        access_denied_cluster,
        new_caller_account,
        novel_session_name,
        assume_role_volume_spike,
        trail_tampering,
        trail_delivery_gap,
    ):
        make()
    print(f"wrote {sum(1 for _ in OUT.glob('*/*.json'))} case files under {OUT}")


if __name__ == "__main__":
    main()
