"""CloudTrail digest files: their names, contents, the string CloudTrail signs, and the checks.

A digest (`.../CloudTrail-Digest/<region>/YYYY/MM/DD/<account>_CloudTrail-Digest_<region>_
<trail>_<home region>_<end>.json.gz`) lists the log files delivered in its hour with the
SHA-256 of their uncompressed bytes, and names the previous digest by key, hash and signature.
Its own signature (hex) is in the object's `x-amz-meta-signature` metadata, over:

    digestEndTime \\n digestS3Bucket/digestS3Object \\n hex SHA-256 of the uncompressed digest
    \\n previousDigestSignature (the text "null" for the first digest of a chain)
"""

from __future__ import annotations

import datetime as dt
import gzip
import hashlib
import json
import re
import zlib
from dataclasses import dataclass, field

from pipeline.times import parse_utc as parse_time
from pipeline.verify.keys import SIGNATURE_ALGORITHM, PublicKey

# trail names may hold underscores, regions never do: the home region anchors the split
DIGEST_NAME = re.compile(
    r"(?:^|/)(\d{12})/CloudTrail-Digest/([^/]+)/\d{4}/\d{2}/\d{2}/"
    r"\1_CloudTrail-Digest_\2_(.+)_([a-z]{2}(?:-[a-z]+)+-\d+)_(\d{8}T\d{6}Z)(_backfill)?\.json\.gz$"
)
LOG_NAME = re.compile(
    r"(?:^|/)(\d{12})/CloudTrail/([^/]+)/\d{4}/\d{2}/\d{2}/\1_CloudTrail_\2_(\d{8}T\d{4}Z)_[^/]+\.json(?:\.gz)?$"
)
DAY_IN_KEY = re.compile(r"(?:^|/)CloudTrail(?:-Digest)?/[^/]+/(\d{4})/(\d{2})/(\d{2})/")
# the fields a digest must have before anything in it can be checked
REQUIRED = (
    "digestStartTime",
    "digestEndTime",
    "digestS3Bucket",
    "digestS3Object",
    "digestPublicKeyFingerprint",
    "previousDigestSignature",
)


def kind(key: str) -> str | None:
    """ "digest", "log" or None (Insights files, sidecars and anything else are not checked)."""
    path = "/" + key
    if "/CloudTrail-Digest/" in path and key.endswith(".json.gz"):
        return "digest"
    if "/CloudTrail/" in path and key.endswith((".json.gz", ".json")):
        return "log"
    return None


def day_of(key: str) -> dt.date | None:
    m = DAY_IN_KEY.search(key)
    try:
        return dt.date(int(m[1]), int(m[2]), int(m[3])) if m else None
    except ValueError:
        return None


def log_stream(key: str) -> tuple[tuple[str, str] | None, dt.datetime | None]:
    """(account, region) and the time in a log file's name (minute precision), where present."""
    m = LOG_NAME.search(key)
    if not m:
        return None, None
    try:
        return (m[1], m[2]), dt.datetime.strptime(m[3], "%Y%m%dT%H%MZ")
    except ValueError:
        return (m[1], m[2]), None


def sha256_of(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def uncompressed(data: bytes) -> bytes:
    """The bytes CloudTrail hashed: the gunzipped content (a plain .json file as it is)."""
    return gzip.decompress(data) if data[:2] == b"\x1f\x8b" else data


@dataclass
class Digest:
    key: str
    raw: bytes = b""  # uncompressed
    data: dict = field(default_factory=dict)
    signature: str | None = None  # hex, from the object's metadata (or the local sidecar)
    sha256: str = ""
    chain: tuple[str, str, str, str] | None = None  # account, region, trail, home region
    backfill: bool = False
    invalid: str | None = None  # why the digest cannot be trusted (None: it checks)

    @property
    def start(self) -> dt.datetime | None:
        return parse_time(self.data.get("digestStartTime"))

    @property
    def end(self) -> dt.datetime | None:
        return parse_time(self.data.get("digestEndTime"))

    @property
    def stream(self) -> tuple[str, str] | None:
        """(account, region) whose log files this digest lists."""
        return self.chain[:2] if self.chain else None

    def log_files(self) -> list[dict]:
        files = self.data.get("logFiles")
        return [f for f in files if isinstance(f, dict)] if isinstance(files, list) else []


def string_to_sign(data: dict, raw: bytes) -> bytes:
    previous = data["previousDigestSignature"]
    # CloudTrail's signer is Java: a missing previous signature is written as the text "null"
    return "\n".join(
        [
            str(data["digestEndTime"]),
            f"{data['digestS3Bucket']}/{data['digestS3Object']}",
            sha256_of(raw),
            "null" if previous is None else str(previous),
        ]
    ).encode()


def read(key: str, body: bytes, metadata: dict) -> Digest:
    """A digest from its object; `invalid` says why when it is not a well-formed digest."""
    d = Digest(key, signature=metadata.get("signature"))
    m = DIGEST_NAME.search(key)
    if m:
        d.chain, d.backfill = (m[1], m[2], m[3], m[4]), bool(m[6])
    try:
        d.raw = uncompressed(body)
        data = json.loads(d.raw)
    except (OSError, EOFError, zlib.error, ValueError):
        d.invalid = "not a gzip JSON digest file"
        return d
    d.sha256 = sha256_of(d.raw)
    if not isinstance(data, dict):
        d.invalid = "not a JSON object"
        return d
    d.data = data
    missing = [f for f in REQUIRED if f not in data]
    if missing:
        d.invalid = f"invalid format: no {', '.join(missing)}"
    elif d.end is None:
        d.invalid = f"digestEndTime {data['digestEndTime']!r} is not a time"
    # the object's metadata is what CloudTrail sets; the digest's own field is the fallback
    algorithm = metadata.get("signature-algorithm") or data.get("digestSignatureAlgorithm")
    if d.invalid is None and algorithm not in (None, SIGNATURE_ALGORITHM):
        d.invalid = f"signature algorithm {algorithm!r} is not {SIGNATURE_ALGORITHM}"
    return d


def check_signature(d: Digest, keys: dict[str, PublicKey], where_ok: bool) -> None:
    """Sets d.invalid when the digest was moved, is unsigned or its signature does not verify."""
    if d.invalid:
        return
    if not where_ok:
        d.invalid = f"moved: it says it is s3://{d.data['digestS3Bucket']}/{d.data['digestS3Object']}"
        return
    if not d.signature:
        d.invalid = "no signature (x-amz-meta-signature, or a .signature file next to a local copy)"
        return
    # the fingerprint only picks the key; a wrong one cannot make a signature verify
    fp = str(d.data["digestPublicKeyFingerprint"]).lower()
    key = keys.get(fp)
    if key is None:
        d.invalid = f"no public key with fingerprint {fp} in the public keys file"
    elif not key.valid_at(d.end):
        d.invalid = f"signed with key {fp} outside its validity period"
    elif not key.verify(d.signature, string_to_sign(d.data, d.raw)):
        d.invalid = "signature does not verify"
