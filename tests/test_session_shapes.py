"""Session name shapes: every family of random ids is one shape; words stay words."""

from __future__ import annotations

import base64
import datetime as dt
import random
import uuid

from conftest import CORPUS

from pipeline import store
from pipeline.ingest import Progress, ingest
from pipeline.session_shape import session_shape, session_shapes

RNG = random.Random(2024)
N = 2000


def _hex(n: int) -> str:
    return f"{RNG.getrandbits(4 * n):0{n}x}"


def _b64(nbytes: int) -> str:
    # session names allow [\w+=,.@-]: base64's '/' is not one of them
    return base64.b64encode(RNG.randbytes(nbytes)).decode().replace("/", "+")


FAMILIES = {
    "export-<8 hex>-<4 hex>": lambda: f"export-{_hex(8)}-{_hex(4)}",
    "export-<uuid>": lambda: f"export-{uuid.UUID(int=RNG.getrandbits(128), version=4)}",
    "run-<hex of 8..40>": lambda: f"run-{_hex(RNG.randrange(8, 41))}",
    "HEX upper case": lambda: f"job-{_hex(12).upper()}",
    "base64 run": lambda: f"sess-{_b64(RNG.randrange(12, 33))}",
    "base32 run": lambda: "tok-" + base64.b32encode(RNG.randbytes(10)).decode(),
    "epoch ms": lambda: f"botocore-session-{RNG.randrange(1_600_000_000_000, 1_800_000_000_000)}",
    "aws-go-sdk nanoseconds": lambda: f"aws-go-sdk-{RNG.randrange(10**18, 2 * 10**18)}",
    "iso timestamp": lambda: (
        (dt.datetime(2024, 1, 1) + dt.timedelta(seconds=RNG.randrange(10**8))).strftime("%Y-%m-%dT%H:%M:%SZ")
        + "-nightly"
    ),
    "compact timestamp": lambda: (
        dt.datetime(2024, 1, 1) + dt.timedelta(seconds=RNG.randrange(10**8))
    ).strftime("terraform-%Y%m%d%H%M%S%f"),
    "instance id": lambda: f"i-0{_hex(16)}",
    "email + run": lambda: f"{RNG.choice(['alice', 'bob'])}@example.com-{RNG.randrange(10**6)}",
}


def test_each_family_of_random_names_is_one_shape():
    for family, make in FAMILIES.items():
        shapes = set(session_shapes([make() for _ in range(N)]))
        assert len(shapes) == 1, (family, sorted(shapes)[:5])


def test_hex_chunks_of_letters_only_are_ids():
    assert session_shape("export-1f2e3d4c-fefb") == session_shape("export-9a8b7c6d-beef") == "export-{id}"
    assert session_shape("export-fedcbaab") == session_shape("export-0b7e2a4c") == "export-{id}"


def test_words_stay_words():
    for name in (
        "manual-debug-session",
        "mallory-test",
        "AutoScalingDescribeHandlerSession",
        "cafe",
        "GitHubActions",
    ):
        assert session_shape(name) == name
    assert session_shape("Role2WithTags") == "Role{n}WithTags"  # a word with a number in it
    assert session_shape("deploy-4711") == session_shape("deploy-98765") != session_shape("manual-4711")
    assert session_shape(None) is None


def test_real_corpus_session_names(db):
    """The corpus's names: the SDK's generated ones are one shape each, the hand-made ones stay."""
    con = store.connect(db)
    ingest(con, str(CORPUS / "events"), progress=Progress(enabled=False))
    names = [
        r[0]
        for r in con.execute(
            "select distinct role_session_name from assume_role_events where role_session_name is not null"
        ).fetchall()
    ]
    con.close()
    shapes = dict(zip(names, session_shapes(names), strict=True))
    assert {shapes[n] for n in names if n.startswith("aws-go-sdk-")} == {"aws-go-sdk-{id}"}
    assert shapes["awslambda_55_20240602202712548"] == "awslambda_{id}"
    for n in ("AutoScalingDescribeHandlerSession", "MyAssignedRoleSessionName"):
        assert shapes[n] == n
    assert shapes["JohnDoe-EC2-dev"] == shapes["Bob-EC2-dev"].replace("Bob", "JohnDoe") == "JohnDoe-EC{n}-dev"
