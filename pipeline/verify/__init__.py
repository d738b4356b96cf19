"""`roletrail verify`: CloudTrail log-file integrity from the digest files, without the AWS API.

The checks of `aws cloudtrail validate-logs`, done from the bucket (or a local copy) and a
public-keys file: every digest is signed by a CloudTrail key and sits where it says it was
delivered; every log file a valid digest lists is there with the SHA-256 it lists; each
digest's link to its previous one (key, hash, signature) holds. Beyond the CLI, log files
that no digest lists are reported too, except the newest ones CloudTrail has not digested yet.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from collections import defaultdict
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

from pipeline.verify import digest as dg
from pipeline.verify.keys import PublicKey
from pipeline.verify.objects import in_range, open_objects

# the problems verify reports, one per key: the JSON output's `problem` values
PROBLEMS = (
    "modified",  # a log file's SHA-256 is not the one its digest lists
    "missing",  # a log file a digest lists is not there
    "digest_signature_invalid",  # unsigned, moved, malformed, or the signature does not verify
    "digest_missing",  # a digest named as the previous one by the next is not there
    "digest_chain_broken",  # the previous digest is there but not the one the next digest names
    "not_in_any_digest",  # a log file no digest lists
)
# CloudTrail writes a digest every hour: a log file newer than a stream's last digest by
# less than this is waiting for its digest, not missing from one
PENDING = dt.timedelta(hours=2)
SLACK = dt.timedelta(minutes=5)  # log file names carry minutes; digest times seconds


@dataclass(frozen=True)
class Problem:
    key: str
    problem: str
    detail: str


@dataclass
class Report:
    source: str
    since: dt.date | None
    until: dt.date | None
    problems: list[Problem] = field(default_factory=list)
    checked: dict = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return not self.problems

    def as_json(self) -> dict:
        return {
            "problems": [{"key": p.key, "problem": p.problem, "detail": p.detail} for p in self.problems],
            "checked": self.checked,
        }

    def lines(self) -> list[str]:
        c = self.checked
        out = [
            f"{c['digests']} digests ({c['digests_valid']} valid), {c['log_files']} log files checked "
            f"against them, {c['log_files_listed']} log files in {self.source}; {len(self.problems)} problems"
        ]
        if c["pending"]:
            out.append(f"{c['pending']} log files newer than their stream's last digest: not digested yet")
        if c["in_missing_digest"]:
            out.append(f"{c['in_missing_digest']} log files fall in the hour of a missing digest")
        if c["chain_starts"] > len(c["streams"]):
            out.append("a digest chain starts again: logging or validation was off for a while")
        return out


def verify(
    uri: str,
    keys: dict[str, PublicKey],
    since: dt.date | None = None,
    until: dt.date | None = None,
    workers: int = 16,
) -> Report:
    objects = open_objects(uri)
    report = Report(objects.label, since, until)
    # digests are filed under the day their hour ends: a day's last log files are in the
    # next day's first digest, so digests are read one day past --until
    digest_until = until + dt.timedelta(days=1) if until else None
    digest_keys, log_keys = [], []
    for key in objects.list(since, digest_until):
        kind = dg.kind(key)
        if kind == "digest":
            digest_keys.append(key)
        elif kind == "log" and in_range(key, since, until):
            log_keys.append(key)

    # reads are network-bound on S3: threads overlap them; hashing releases the GIL
    with ThreadPoolExecutor(max_workers=workers) as pool:
        digests = {d.key: d for d in pool.map(lambda k: _load_digest(objects, k, keys), digest_keys)}
        problems = [
            Problem(d.key, "digest_signature_invalid", d.invalid) for d in digests.values() if d.invalid
        ]
        missing_digests, chain_problems = _walk_chains(objects, digests)
        problems += chain_problems
        problems += [Problem(k, "digest_missing", why) for k, (why, _, _) in missing_digests.items()]
        to_check, listed = _listed_logs(objects, digests, since, until)
        results = pool.map(lambda item: _check_log(objects, *item), to_check.items())
        problems += [p for p in results if p]

    stray, pending, in_gap = _unlisted(log_keys, listed, digests, missing_digests)
    problems += stray
    report.problems = sorted(problems, key=lambda p: (p.key, PROBLEMS.index(p.problem)))
    valid = [d for d in digests.values() if not d.invalid]
    report.checked = {
        "digests": len(digests),
        "digests_valid": len(valid),
        "log_files": len(to_check),
        "log_files_listed": len(log_keys),
        "pending": pending,
        "in_missing_digest": in_gap,
        "chain_starts": sum(1 for d in valid if d.data.get("previousDigestSignature") is None),
        "streams": sorted({"/".join(d.stream) for d in valid if d.stream}),
        "period": {
            "since": since.isoformat() if since else None,
            "until": until.isoformat() if until else None,
            "first_digest_start": _iso(min((d.start for d in valid if d.start), default=None)),
            "last_digest_end": _iso(max((d.end for d in valid if d.end), default=None)),
        },
    }
    return report


def _iso(t: dt.datetime | None) -> str | None:
    return t.strftime("%Y-%m-%dT%H:%M:%SZ") if t else None


def _load_digest(objects, key: str, keys: dict[str, PublicKey]) -> dg.Digest:
    blob = objects.read(key)
    if blob is None:  # listed a moment ago, deleted since
        return dg.Digest(key, invalid="deleted while verify ran")
    d = dg.read(key, blob.body, blob.metadata)
    if not d.invalid:
        where_ok = objects.claims(key, d.data["digestS3Bucket"], d.data["digestS3Object"])
        dg.check_signature(d, keys, where_ok)
    d.raw = b""  # hashed and checked: a year of digests need not stay in memory twice
    return d


def _walk_chains(objects, digests: dict[str, dg.Digest]):
    """Each valid digest's link to its previous digest. A previous digest outside the range
    read is fetched to check the link; one that is gone is missing. A link to a digest that is
    itself invalid is not judged again: that digest's problem is already reported."""
    missing: dict[str, tuple[str, dg.Digest, dt.datetime | None]] = {}
    problems = []
    for d in digests.values():
        prev_object = d.data.get("previousDigestS3Object")
        if d.invalid or not prev_object:
            continue
        prev_key = objects.locate(
            d.key, d.data["digestS3Object"], d.data.get("previousDigestS3Bucket") or "", prev_object
        )
        prev = digests.get(prev_key) if prev_key else None
        if prev is None and prev_key:
            blob = objects.read(prev_key)
            prev = dg.read(prev_key, blob.body, blob.metadata) if blob else None
        if prev is None:
            shown = prev_key or f"s3://{d.data.get('previousDigestS3Bucket')}/{prev_object}"
            missing[shown] = (f"named as the previous digest by {d.key}", d, d.start)
            continue
        if prev.invalid:
            continue
        wrong = []
        if str(d.data.get("previousDigestHashValue", "")).lower() != prev.sha256:
            wrong.append("hash")
        if (d.data.get("previousDigestSignature") or "").lower() != (prev.signature or "").lower():
            wrong.append("signature")
        if wrong:
            problems.append(
                Problem(
                    d.key,
                    "digest_chain_broken",
                    f"the previous digest {prev.key} has another {' and '.join(wrong)}",
                )
            )
    return missing, problems


def _listed_logs(objects, digests, since, until):
    """(log files to check: key -> (listing digest, entry), every key any digest lists)."""
    to_check: dict[str, tuple[str, dict]] = {}
    listed: set[str] = set()
    for d in digests.values():
        if not d.data.get("digestS3Object"):
            continue
        for entry in d.log_files():
            key = objects.locate(
                d.key, d.data["digestS3Object"], str(entry.get("s3Bucket")), str(entry.get("s3Object"))
            )
            if key is None:
                continue
            listed.add(key)
            # only a valid digest's list is trusted; a log file outside the range is not read
            if (
                not d.invalid
                and key not in to_check
                and (since is None and until is None or in_range(key, since, until))
            ):
                to_check[key] = (d.key, entry)
    return to_check, listed


def _check_log(objects, key: str, listing: tuple[str, dict]) -> Problem | None:
    digest_key, entry = listing
    blob = objects.read(key)
    if blob is None:
        return Problem(key, "missing", f"listed in {digest_key}")
    algorithm = str(entry.get("hashAlgorithm") or "SHA-256").replace("-", "").lower()
    try:
        content = dg.uncompressed(blob.body)
    except (OSError, EOFError, ValueError):
        return Problem(key, "modified", f"no longer a gzip file (listed in {digest_key})")
    if algorithm not in hashlib.algorithms_available:
        return Problem(key, "modified", f"{digest_key} lists an unknown hash algorithm {algorithm!r}")
    if hashlib.new(algorithm, content).hexdigest() != str(entry.get("hashValue", "")).lower():
        return Problem(key, "modified", f"SHA-256 differs from the one in {digest_key}")
    return None


def _unlisted(log_keys, listed, digests, missing_digests):
    """Log files no digest lists: a problem, unless the stream's digests have not reached
    them yet or they fall in the hour of a digest that is itself reported missing."""
    last_end: dict[tuple[str, str], dt.datetime] = {}
    ends_by_stream: dict[tuple[str, str], list[dt.datetime]] = defaultdict(list)
    for d in digests.values():
        if d.stream and d.end:
            last_end[d.stream] = max(last_end.get(d.stream, d.end), d.end)
            ends_by_stream[d.stream].append(d.end)
    gaps = defaultdict(list)  # stream -> (from, to) windows of missing digests
    for _, successor, successor_start in missing_digests.values():
        if successor.stream and successor_start:
            earlier = [e for e in ends_by_stream[successor.stream] if e < successor_start]
            begin = max(earlier, default=successor_start - dt.timedelta(hours=1))
            gaps[successor.stream].append((begin - SLACK, successor_start + SLACK))
    problems, pending, in_gap = [], 0, 0
    for key in log_keys:
        if key in listed:
            continue
        stream, when = dg.log_stream(key)
        end = last_end.get(stream)
        if when and any(a <= when <= b for a, b in gaps.get(stream, ())):
            in_gap += 1
        elif when and end and end - SLACK < when <= end + PENDING:
            pending += 1
        else:
            problems.append(Problem(key, "not_in_any_digest", "no digest lists this log file"))
    return problems, pending, in_gap
