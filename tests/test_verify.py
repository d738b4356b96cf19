"""`roletrail verify`: a trail signed the way CloudTrail signs it, then tampered with, on moto S3
over HTTP and in a local folder; each tampering is named exactly once and nothing else is."""

from __future__ import annotations

import base64
import datetime as dt
import gzip
import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from conftest import log_bytes, record, roletrail

from pipeline.verify import PROBLEMS, verify
from pipeline.verify import keys as keys_mod
from pipeline.verify.objects import SIDECAR

ACCOUNT, REGION, TRAIL = "111122223333", "us-east-1", "org-trail"
T0 = dt.datetime(2024, 5, 1, 20, 0, 30)  # digest hours start half a minute past the hour
# the example key and fingerprint of `aws cloudtrail list-public-keys` in the AWS CLI's documentation
AWS_DOC_KEY = (
    "MIIBCgKCAQEAlSS3cl92HDycr/MTj0moOhas8habjrraXw+KzlWF0axSI2tcF+3iJ9BKQAVSKxGwxwu3m0wG3J+kUl1xboEcEPHYoI"
    "YMbgfSw7KGnuDKwkLzsQWhUJ0cIbOHASox1vv/5fNXkrHhGbDCHeVXm804c83nvHUEFYThr1PfyP/8HwrCtR3FX5OANtQCP61C1nJt"
    "SSkC8JSQUOrIP4CuwJjc+4WGDk+BGH5m9iuiAKkipEHWmUl8/P7XpfpWQuk4h8g3pXZOrNXr08lbh4d39svj7UqdhvOXoBISp9t/EX"
    "YuePGEtBdrKD9Dz+VHwyUPtBQvYr9BnkF88qBnaPNhS44rzwIDAQAB"
)
AWS_DOC_FINGERPRINT = "7f3f401420072e50a65a141430817ab3"


@pytest.fixture(scope="module")
def rsa_keys():
    from cryptography.hazmat.primitives.asymmetric import rsa

    return [rsa.generate_private_key(public_exponent=65537, key_size=2048) for _ in range(2)]


def pkcs1_der(private_key) -> bytes:
    from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

    return private_key.public_key().public_bytes(Encoding.DER, PublicFormat.PKCS1)


def sign(private_key, message: bytes) -> str:
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import padding

    return private_key.sign(message, padding.PKCS1v15(), hashes.SHA256()).hex()


def keys_file(path: Path, private_key) -> Path:
    der = pkcs1_der(private_key)
    path.write_text(
        json.dumps(
            {
                "PublicKeyList": [
                    {
                        "Value": base64.b64encode(der).decode(),
                        "ValidityStartTime": (T0 - dt.timedelta(days=30)).timestamp(),
                        "ValidityEndTime": "2024-06-30T00:00:00+00:00",
                        "Fingerprint": hashlib.md5(der).hexdigest(),
                    }
                ]
            }
        )
    )
    return path


def signed_text(doc: dict, raw: bytes) -> bytes:
    """CloudTrail's string to sign, written out here so that the code under test is not its own oracle."""
    previous = doc["previousDigestSignature"] or "null"
    sha = hashlib.sha256(raw).hexdigest()
    return (
        f"{doc['digestEndTime']}\n{doc['digestS3Bucket']}/{doc['digestS3Object']}\n{sha}\n{previous}".encode()
    )


def z(t: dt.datetime) -> str:
    return t.strftime("%Y-%m-%dT%H:%M:%SZ")


def log_key(t: dt.datetime, n: int) -> str:
    return (
        f"AWSLogs/{ACCOUNT}/CloudTrail/{REGION}/{t:%Y/%m/%d}/"
        f"{ACCOUNT}_CloudTrail_{REGION}_{t:%Y%m%dT%H%M}Z_{n:016d}.json.gz"
    )


def digest_key(end: dt.datetime) -> str:
    return (
        f"AWSLogs/{ACCOUNT}/CloudTrail-Digest/{REGION}/{end:%Y/%m/%d}/"
        f"{ACCOUNT}_CloudTrail-Digest_{REGION}_{TRAIL}_{REGION}_{end:%Y%m%dT%H%M%SZ}.json.gz"
    )


@dataclass
class Trail:
    """What CloudTrail writes: log files and one signed digest per hour, each chained to the last."""

    bucket: str
    signer: object
    objects: dict[str, tuple[bytes, dict]] = field(default_factory=dict)  # key -> (bytes, metadata)
    digests: list[str] = field(default_factory=list)
    logs: list[list[str]] = field(default_factory=list)  # per digest, the log files it lists

    def put_log(self, t: dt.datetime, n: int) -> str:
        key = log_key(t, n)
        self.objects[key] = (log_bytes([record(f"ev-{n}", when=z(t), account=ACCOUNT)]), {})
        return key

    def put_digest(self, start: dt.datetime, logs: list[str], previous: str | None, **overrides) -> str:
        end = start + dt.timedelta(hours=1)
        key = digest_key(end)
        prev_data = prev_meta = None
        if previous:
            prev_body, prev_meta = self.objects[previous]
            prev_data = gzip.decompress(prev_body)
        doc = {
            "awsAccountId": ACCOUNT,
            "digestStartTime": z(start),
            "digestEndTime": z(end),
            "digestS3Bucket": self.bucket,
            "digestS3Object": key,
            "digestPublicKeyFingerprint": hashlib.md5(pkcs1_der(self.signer)).hexdigest(),
            "digestSignatureAlgorithm": "SHA256withRSA",
            "newestEventTime": z(end - dt.timedelta(minutes=5)),
            "oldestEventTime": z(start),
            "previousDigestS3Bucket": self.bucket if previous else None,
            "previousDigestS3Object": previous,
            "previousDigestHashValue": hashlib.sha256(prev_data).hexdigest() if previous else None,
            "previousDigestHashAlgorithm": "SHA-256" if previous else None,
            "previousDigestSignature": prev_meta["signature"] if previous else None,
            "logFiles": [
                {
                    "s3Bucket": self.bucket,
                    "s3Object": k,
                    "hashValue": hashlib.sha256(gzip.decompress(self.objects[k][0])).hexdigest(),
                    "hashAlgorithm": "SHA-256",
                    "newestEventTime": z(start),
                    "oldestEventTime": z(start),
                }
                for k in logs
            ],
            **overrides,
        }
        raw = json.dumps(doc).encode()
        signature = sign(self.signer, signed_text(doc, raw))
        self.objects[key] = (
            gzip.compress(raw),
            {"signature": signature, "signature-algorithm": "SHA256withRSA"},
        )
        return key

    # two log files per hour, at :10 and :40, like a quiet account's trail
    def build(self, hours: int, start: dt.datetime = T0) -> Trail:
        previous = None
        for h in range(hours):
            begin = start + dt.timedelta(hours=h)
            logs = [self.put_log(begin + dt.timedelta(minutes=m), h * 10 + i) for i, m in enumerate((10, 40))]
            previous = self.put_digest(begin, logs, previous)
            self.digests.append(previous)
            self.logs.append(logs)
        return self

    def upload(self, s3):
        for key, (body, meta) in self.objects.items():
            s3.put_object(Bucket=self.bucket, Key=key, Body=body, Metadata=meta)
        return f"s3://{self.bucket}/"

    def write_local(self, root: Path) -> str:
        for key, (body, meta) in self.objects.items():
            path = root / key
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(body)
            if "signature" in meta:
                Path(f"{path}{SIDECAR}").write_text(meta["signature"] + "\n")
        return str(root)


def tamper(trail: Trail, other_key) -> dict[str, str]:
    """Six hours of digests, then one of each kind of damage; returns key -> the problem expected."""
    d, logs = trail.digests, trail.logs
    body, meta = trail.objects[logs[1][0]]
    changed = log_bytes(
        [record("ev-forged", when=z(T0 + dt.timedelta(hours=1, minutes=10)), account=ACCOUNT)]
    )
    trail.objects[logs[1][0]] = (changed, meta)  # altered after delivery
    body, meta = trail.objects[d[2]]
    trail.objects[d[2]] = (body, {**meta, "signature": sign(other_key, b"something else")})  # wrong signature
    del trail.objects[logs[3][1]]  # a log file deleted
    del trail.objects[d[4]]  # a digest deleted: its two log files are in its hour
    stray = trail.put_log(T0 + dt.timedelta(hours=5, minutes=20), 999)  # a log file no digest lists
    trail.put_log(T0 + dt.timedelta(hours=6, minutes=15), 998)  # newer than the last digest: pending
    return {
        logs[1][0]: "modified",
        d[2]: "digest_signature_invalid",
        logs[3][1]: "missing",
        d[4]: "digest_missing",
        stray: "not_in_any_digest",
    }


@dataclass
class Place:
    """Where a trail is written: moto S3 over HTTP, or a local copy with signature sidecars."""

    bucket: str
    write: object  # Trail -> the SOURCE to verify
    delete: object  # key -> None


@pytest.fixture(params=["s3", "local"])
def where(request, tmp_path):
    if request.param == "local":
        # the bucket name is only inside the digests: a local copy cannot check it
        yield Place(
            "copy-of-org-trail-bucket",
            lambda trail: trail.write_local(tmp_path / "copy"),
            lambda key: (tmp_path / "copy" / key).unlink(),
        )
        return
    # a bucket of its own: the bucket name is part of what each digest signs
    s3 = request.getfixturevalue("s3")
    name = f"verify-{request.node.originalname.replace('_', '-')[5:40]}"
    s3.create_bucket(Bucket=name)
    yield Place(name, lambda trail: trail.upload(s3), lambda key: s3.delete_object(Bucket=name, Key=key))
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=name):
        for obj in page.get("Contents", []):
            s3.delete_object(Bucket=name, Key=obj["Key"])
    s3.delete_bucket(Bucket=name)


def test_clean_trail_exits_zero(where, rsa_keys, tmp_path):
    trail = Trail(where.bucket, rsa_keys[0]).build(4)
    uri = where.write(trail)
    proc = roletrail(
        "verify", uri, "--public-keys", keys_file(tmp_path / "keys.json", rsa_keys[0]), "--format", "json"
    )
    assert proc.returncode == 0, proc.stderr
    out = json.loads(proc.stdout)
    assert out["problems"] == []
    assert out["checked"]["digests"] == out["checked"]["digests_valid"] == 4
    assert out["checked"]["log_files"] == out["checked"]["log_files_listed"] == 8
    assert out["checked"]["period"]["first_digest_start"] == z(T0)


def test_each_tampering_is_named_once_and_nothing_else(where, rsa_keys, tmp_path):
    trail = Trail(where.bucket, rsa_keys[0]).build(6)
    expected = tamper(trail, rsa_keys[1])
    uri = where.write(trail)
    proc = roletrail(
        "verify", uri, "--public-keys", keys_file(tmp_path / "keys.json", rsa_keys[0]), "--format", "json"
    )
    assert proc.returncode == 1, proc.stderr
    out = json.loads(proc.stdout)
    got = {p["key"]: p["problem"] for p in out["problems"]}
    assert len(out["problems"]) == len(got)  # one problem per key
    assert got == expected
    assert set(got.values()) <= set(PROBLEMS)
    assert out["checked"]["pending"] == 1 and out["checked"]["in_missing_digest"] == 2
    # the table says the same, one line per problem
    table = roletrail("verify", uri, "--public-keys", tmp_path / "keys.json")
    assert table.returncode == 1
    assert sum(1 for line in table.stdout.splitlines() if line.startswith("AWSLogs/")) == len(expected)


def test_a_validly_signed_substitute_breaks_the_chain(rsa_keys, tmp_path):
    """Whoever holds the key re-signs digest 2 with other content: it verifies on its own, but
    digest 3 names the original's hash and signature."""
    trail = Trail("copy-of-org-trail-bucket", rsa_keys[0]).build(4)
    start = T0 + dt.timedelta(hours=2)
    trail.put_digest(start, trail.logs[2], trail.digests[1], newestEventTime=z(start))
    report = verify(
        trail.write_local(tmp_path / "copy"), keys_mod.load(keys_file(tmp_path / "k.json", rsa_keys[0]))
    )
    assert [(p.key, p.problem) for p in report.problems] == [(trail.digests[3], "digest_chain_broken")]


def test_range_reads_the_previous_digest_outside_it(where, rsa_keys, tmp_path):
    """--since cuts the chain: the digest before the range is read to check the link, not
    reported missing; log files before the range are not reported either. On S3 the range is
    listed per account/region root from --since on."""
    trail = Trail(where.bucket, rsa_keys[0]).build(30, start=dt.datetime(2024, 5, 1, 0, 0, 30))
    uri = where.write(trail)
    keys = keys_mod.load(keys_file(tmp_path / "k.json", rsa_keys[0]))
    day2 = dt.date(2024, 5, 2)
    report = verify(uri, keys, since=day2, until=day2)
    assert report.problems == []
    assert report.checked["log_files_listed"] == 12  # 6 hours of day 2, two files each
    assert report.checked["digests"] == 7  # ending 00:00:30 to 06:00:30 on day 2
    # the digest ending at 00:00:30 on day 2 is gone; the next one names it
    where.delete(trail.digests[23])
    assert [(p.key, p.problem) for p in verify(uri, keys, since=day2).problems] == [
        (trail.digests[23], "digest_missing")
    ]


def test_unknown_key_and_unsigned_digest(rsa_keys, tmp_path):
    trail = Trail("copy-of-org-trail-bucket", rsa_keys[0]).build(3)
    uri = trail.write_local(tmp_path / "copy")
    Path(f"{tmp_path / 'copy' / trail.digests[0]}{SIDECAR}").unlink()
    report = verify(uri, keys_mod.load(keys_file(tmp_path / "k.json", rsa_keys[1])))
    assert {p.problem for p in report.problems} == {"digest_signature_invalid"}
    assert len(report.problems) == 3
    details = {p.key: p.detail for p in report.problems}
    assert "no signature" in details[trail.digests[0]]
    assert "no public key with fingerprint" in details[trail.digests[1]]


def test_public_keys_file(tmp_path):
    path = tmp_path / "keys.json"
    path.write_text(
        json.dumps({"PublicKeyList": [{"Value": AWS_DOC_KEY, "Fingerprint": AWS_DOC_FINGERPRINT}]})
    )
    assert list(keys_mod.load(path)) == [AWS_DOC_FINGERPRINT]  # the fingerprint is the MD5 of the DER
    path.write_text(json.dumps({"PublicKeyList": [{"Value": AWS_DOC_KEY, "Fingerprint": "0" * 32}]}))
    with pytest.raises(keys_mod.RoletrailError, match=r"PublicKeyList\[0\]: Fingerprint 0+ is not the MD5"):
        keys_mod.load(path)
    path.write_text(json.dumps({"PublicKeyList": [{"Value": "bm90IGEga2V5"}]}))
    with pytest.raises(keys_mod.RoletrailError, match="not a DER RSA public key"):
        keys_mod.load(path)
    path.write_text("[]")
    proc = roletrail("verify", tmp_path, "--public-keys", path)
    assert proc.returncode == 1 and proc.stderr.count("\n") == 1 and "list-public-keys" in proc.stderr


def test_table_makes_control_characters_visible(rsa_keys, tmp_path):
    """Anyone who can write to the bucket chooses key names: the table escapes what a terminal
    would act on; JSON keeps the key exact."""
    trail = Trail("copy-of-org-trail-bucket", rsa_keys[0]).build(2)
    uri = trail.write_local(tmp_path / "copy")
    forged = log_key(T0 + dt.timedelta(minutes=30), 5).replace(".json.gz", "\x1b]0;owned\x07.json.gz")
    (tmp_path / "copy" / forged).write_bytes(log_bytes([record("forged")]))
    keys = keys_file(tmp_path / "k.json", rsa_keys[0])
    table = roletrail("verify", uri, "--public-keys", keys)
    assert table.returncode == 1 and "\x1b" not in table.stdout and "\\x1b]0;owned\\x07" in table.stdout
    out = json.loads(roletrail("verify", uri, "--public-keys", keys, "--format", "json").stdout)
    assert out["problems"] == [
        {"key": forged, "problem": "not_in_any_digest", "detail": "no digest lists this log file"}
    ]
