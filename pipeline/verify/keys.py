"""CloudTrail's public keys, from a file shaped like `aws cloudtrail list-public-keys` output.

Each entry's `Value` is a base64 DER RSA public key in PKCS#1 form and its `Fingerprint` the
hex MD5 of those DER bytes (checked against the example in the AWS CLI's own documentation);
a digest names the key that signed it by that fingerprint (`digestPublicKeyFingerprint`).
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import hashlib
import json
from dataclasses import dataclass
from pathlib import Path

from pipeline.errors import RoletrailError

SIGNATURE_ALGORITHM = "SHA256withRSA"  # the only one CloudTrail uses


@dataclass(frozen=True)
class PublicKey:
    fingerprint: str
    der: bytes
    valid_from: dt.datetime | None
    valid_to: dt.datetime | None

    def verify(self, signature_hex: str, message: bytes) -> bool:
        """RSA PKCS#1 v1.5 over SHA-256 of `message`, the way CloudTrail signs digests."""
        # the signature is metadata anyone with s3:PutObject can set: bad hex is a bad signature
        from cryptography.exceptions import InvalidSignature
        from cryptography.hazmat.primitives import hashes
        from cryptography.hazmat.primitives.asymmetric import padding

        try:
            signature = binascii.unhexlify(signature_hex.strip())
        except (binascii.Error, ValueError):
            return False
        try:
            _rsa_key(self.der).verify(signature, message, padding.PKCS1v15(), hashes.SHA256())
        except InvalidSignature:
            return False
        return True

    def valid_at(self, when: dt.datetime, slack=dt.timedelta(hours=1)) -> bool:
        # a digest is signed a little after its end time, and key periods meet end to end
        if self.valid_from and when < self.valid_from - slack:
            return False
        return not (self.valid_to and when > self.valid_to + slack)


def fingerprint(der: bytes) -> str:
    # MD5 is CloudTrail's choice of key name here, not a security property: the signature is RSA
    return hashlib.md5(der, usedforsecurity=False).hexdigest()


def _rsa_key(der: bytes):
    """The RSA key of PKCS#1 DER (what CloudTrail publishes); SubjectPublicKeyInfo DER also works."""
    from cryptography.hazmat.primitives.asymmetric.rsa import RSAPublicKey
    from cryptography.hazmat.primitives.serialization import load_der_public_key

    key = load_der_public_key(der)
    if not isinstance(key, RSAPublicKey):
        raise ValueError("not an RSA key")
    return key


def _time(value, where: str) -> dt.datetime | None:
    """CLI v1 prints epoch seconds, v2 ISO 8601 text: either becomes naive UTC."""
    if value is None:
        return None
    try:
        if isinstance(value, int | float):
            return dt.datetime.fromtimestamp(value, dt.UTC).replace(tzinfo=None)
        parsed = dt.datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except (ValueError, OverflowError, OSError):
        raise RoletrailError(f"{where}: {value!r} is not a time") from None
    return parsed.astimezone(dt.UTC).replace(tzinfo=None) if parsed.tzinfo else parsed


def load(path: str | Path) -> dict[str, PublicKey]:
    """fingerprint -> key. Bad input is a one-line error naming the entry."""
    try:
        doc = json.loads(Path(path).read_text())
    except OSError as e:
        raise RoletrailError(f"cannot read public keys {path}: {e.strerror or e}") from None
    except (ValueError, UnicodeDecodeError) as e:
        raise RoletrailError(f"public keys {path} is not JSON: {e}") from None
    entries = doc.get("PublicKeyList") if isinstance(doc, dict) else None
    if not isinstance(entries, list) or not entries:
        raise RoletrailError(
            f"public keys {path}: expected `aws cloudtrail list-public-keys` output "
            '({"PublicKeyList": [{"Value", "Fingerprint", ...}]})'
        )
    from cryptography.exceptions import UnsupportedAlgorithm

    keys: dict[str, PublicKey] = {}
    for i, entry in enumerate(entries):
        where = f"public keys {path}: PublicKeyList[{i}]"
        if not isinstance(entry, dict) or not isinstance(entry.get("Value"), str):
            raise RoletrailError(f"{where} has no base64 Value")
        try:
            der = base64.b64decode(entry["Value"], validate=True)
            _rsa_key(der)
        except (binascii.Error, ValueError, UnsupportedAlgorithm) as e:
            raise RoletrailError(f"{where}: Value is not a DER RSA public key ({e})") from None
        fp = fingerprint(der)
        # a file edited by hand (or a key swapped in) must not pass under another key's name
        given = entry.get("Fingerprint")
        if given is not None and str(given).lower() != fp:
            raise RoletrailError(f"{where}: Fingerprint {given} is not the MD5 of its Value ({fp})")
        keys[fp] = PublicKey(
            fp,
            der,
            _time(entry.get("ValidityStartTime"), where),
            _time(entry.get("ValidityEndTime"), where),
        )
    return keys
