"""The views under sql/ and `roletrail chain`, each on small inputs with the rows they must give."""

from __future__ import annotations

import json
import random
from datetime import UTC, datetime, timedelta

import pytest
from conftest import CORPUS, ct_key, log_bytes, roletrail, write

from pipeline import chain, store, synth
from pipeline.ingest import Progress, ingest

T = datetime(2024, 5, 1, 10, 0, tzinfo=UTC)
SEC, SHARED, PROD = "444444444444", "111111111111", "222222222222"
UA = "aws-cli/2.15.30"
IP = "198.51.100.20"
SAML_PROVIDER = f"arn:aws:iam::{SEC}:saml-provider/AWSSSO"


def load(db, tmp_path, records, name="src"):
    write(tmp_path / name, ct_key(suffix=name), log_bytes(records))
    con = store.connect(db)
    ingest(con, str(tmp_path / name), progress=Progress(enabled=False))
    con.close()


def rows(db, sql, params=None):
    con = store.connect(db, read_only=True)
    try:
        cur = con.execute(sql, params)
        cols = [c[0] for c in cur.description]
        return [dict(zip(cols, r, strict=True)) for r in cur.fetchall()]
    finally:
        con.close()


def three_hop_chain():
    """SSO (SAML) -> security account role -> shared-services role -> prod PlatformDeploy, then an action."""
    rng = random.Random(3)
    sso = synth.assume_role_with_saml(
        T, f"arn:aws:iam::{SEC}:role/AWSReservedSSO_Admin", SAML_PROVIDER, "alice@example.com",
        source_identity="alice@example.com", rng=rng,
    )  # fmt: skip
    hop2 = synth.assume_role(T + timedelta(minutes=1), sso.session, f"arn:aws:iam::{SHARED}:role/Hub", "alice",
                             source_ip=IP, user_agent=UA, rng=rng)  # fmt: skip
    hop3 = synth.assume_role(T + timedelta(minutes=2), hop2.session, f"arn:aws:iam::{PROD}:role/PlatformDeploy",
                             "alice-deploy", source_ip=IP, user_agent=UA, rng=rng)  # fmt: skip
    action = synth.api_call(T + timedelta(minutes=3), hop3.session, "cloudformation.amazonaws.com", "UpdateStack",
                            PROD, "us-east-1", IP, UA, {"stackName": "app"}, read_only=False, rng=rng)  # fmt: skip
    return sso, hop2, hop3, action


def test_three_hop_chain_keeps_one_source_identity(tmp_path, db):
    sso, hop2, hop3, action = three_hop_chain()
    load(db, tmp_path, sso.records + hop2.records + hop3.records + [action])
    lineage = rows(db, "select * from role_session_lineage order by depth")
    assert [(r["depth"], r["role_arn"].rsplit("/", 1)[1], r["source_identity"]) for r in lineage] == [
        (1, "AWSReservedSSO_Admin", "alice@example.com"),
        (2, "Hub", "alice@example.com"),
        (3, "PlatformDeploy", "alice@example.com"),
    ]
    last = lineage[-1]
    assert last["access_key_id"] == hop3.access_key_id
    assert last["parent_access_key_id"] == hop2.access_key_id
    assert last["root_access_key_id"] == sso.access_key_id
    assert (last["origin_type"], last["origin_identity"]) == ("SAMLUser", "SAMLUser:alice@example.com@" + last[
        "origin_identity"].rsplit("@", 1)[1])  # fmt: skip
    events = rows(db, "select role_arn, is_cross_account, is_role_chain, source_identity, source_identity_inherited "
                      "from assume_role_events where not is_owner_copy order by eventtime")  # fmt: skip
    assert [(e["is_cross_account"], e["is_role_chain"], e["source_identity_inherited"]) for e in events] == [
        (False, False, False), (True, True, True), (True, True, True),
    ]  # fmt: skip
    actions = rows(
        db, "select eventname, calls from session_actions where access_key_id = $k", {"k": hop3.access_key_id}
    )
    assert actions == [{"eventname": "UpdateStack", "calls": 1}]


def test_chain_command_walks_from_origin_to_actions(tmp_path, db):
    sso, hop2, hop3, action = three_hop_chain()
    load(db, tmp_path, sso.records + hop2.records + hop3.records + [action])
    for ident in (hop3.access_key_id, action["eventID"], hop3.records[0]["sharedEventID"]):
        out = roletrail("chain", "--db", db, "--format", "json", ident, check=True)
        doc = json.loads(out.stdout)
        assert doc["origin"]["type"] == "SAMLUser"
        assert [h["role_arn"].rsplit("/", 1)[1] for h in doc["hops"]] == ["AWSReservedSSO_Admin", "Hub",
                                                                          "PlatformDeploy"]  # fmt: skip
        assert [h["source_identity"] for h in doc["hops"]] == ["alice@example.com"] * 3
        assert [a["eventname"] for a in doc["actions"]] == ["UpdateStack"]
    text = roletrail("chain", "--db", db, hop3.access_key_id, check=True).stdout
    assert "origin  SAMLUser" in text and "hop 3" in text and "UpdateStack x1" in text
    missing = roletrail("chain", "--db", db, "no-such-id")
    assert missing.returncode == 1 and "no event, sharedEventID or access key id" in missing.stderr


def test_failed_chained_assume_over_one_hour(tmp_path, db):
    rng = random.Random(5)
    user = synth.iam_user(SHARED, "bob", "AKIABOBXXXXXXXXXXXXX")
    first = synth.assume_role(
        T, user, f"arn:aws:iam::{SHARED}:role/Hub", "bob", source_ip=IP, user_agent=UA, rng=rng
    )
    msg = "The requested DurationSeconds exceeds the 1 hour session limit for roles assumed by role chaining."
    denied = synth.assume_role(T + timedelta(minutes=1), first.session, f"arn:aws:iam::{PROD}:role/PlatformDeploy",
                               "bob-long", duration_seconds=7200, source_ip=IP, user_agent=UA,
                               error_code="ValidationError", error_message=msg, rng=rng)  # fmt: skip
    load(db, tmp_path, first.records + denied.records)
    [ev] = rows(db, "select * from assume_role_events where not succeeded")
    assert (ev["duration_seconds"], ev["is_role_chain"], ev["error_code"], ev["issued_access_key_id"]) == (
        7200, True, "ValidationError", None)  # fmt: skip
    doc = json.loads(roletrail("chain", "--db", db, "--format", "json", ev["eventid"], check=True).stdout)
    assert doc["origin"]["identity"] == f"arn:aws:iam::{SHARED}:user/bob"
    assert [h.get("error_code") for h in doc["hops"]] == [None, "ValidationError"]
    assert doc["hops"][-1]["error_message"] == msg


def test_pairs_join_both_sides_and_keep_a_lonely_side(tmp_path, db):
    rng = random.Random(7)
    user = synth.iam_user(SHARED, "carol", "AKIACAROLXXXXXXXXXXX")
    both = synth.assume_role(
        T, user, f"arn:aws:iam::{PROD}:role/Audit", "carol", source_ip=IP, user_agent=UA, rng=rng
    )
    lonely = synth.assume_role(
        T + timedelta(minutes=5),
        synth.iam_user("999999999999", "ext", "AKIAEXTXXXXXXXXXXXXX"),
        f"arn:aws:iam::{PROD}:role/Audit",
        "ext",
        source_ip=IP,
        user_agent=UA,
        rng=rng,
    )
    owner_copy = [r for r in lonely.records if r["userIdentity"]["type"] == "AWSAccount"]
    # the pair is delivered twice: duplicates never double a row
    load(db, tmp_path, both.records + owner_copy, "a")
    load(db, tmp_path, both.records, "b")
    pairs = rows(db, "select * from assume_role_pairs order by eventtime")
    assert [(p["caller_account"], p["has_caller_side"], p["has_owner_side"]) for p in pairs] == [
        (SHARED, True, True), ("999999999999", False, True),
    ]  # fmt: skip
    p = pairs[0]
    assert p["shared_event_id"] == both.records[0]["sharedEventID"]
    assert p["caller_arn"] == f"arn:aws:iam::{SHARED}:user/carol"
    assert {p["caller_eventid"], p["owner_eventid"]} == {r["eventID"] for r in both.records}
    assert p["issued_access_key_id"] == both.access_key_id
    assert pairs[1]["caller_arn"] is None and pairs[1]["role_arn"] == f"arn:aws:iam::{PROD}:role/Audit"
    assert rows(db, "select count(*) as n from cross_account_assume_roles") == [{"n": 3}]


@pytest.mark.parametrize("origin", ["saml", "web_identity", "aws_service"])
def test_origins(origin, tmp_path, db):
    rng = random.Random(9)
    if origin == "saml":
        first = synth.assume_role_with_saml(T, f"arn:aws:iam::{SEC}:role/SSO", SAML_PROVIDER, "dave", rng=rng)
        want = ("SAMLUser", "SAMLUser:dave@")
    elif origin == "web_identity":
        first = synth.assume_role_with_web_identity(
            T, f"arn:aws:iam::{SHARED}:role/GitHubActionsCI", "token.actions.githubusercontent.com",
            "repo:example-org/app:ref:refs/heads/main", rng=rng)  # fmt: skip
        want = ("WebIdentityUser", "WebIdentityUser:")
    else:
        first = synth.assume_role(T, synth.aws_service_identity("lambda.amazonaws.com"),
                                  f"arn:aws:iam::{PROD}:role/FnRole", "fn", rng=rng)  # fmt: skip
        want = ("AWSService", "lambda.amazonaws.com")
    nxt = synth.assume_role(T + timedelta(minutes=1), first.session, f"arn:aws:iam::{PROD}:role/Next", "next",
                            source_ip=IP, user_agent=UA, rng=rng)  # fmt: skip
    load(db, tmp_path, first.records + nxt.records)
    [leaf] = rows(db, "select * from role_session_lineage where depth = 2")
    assert leaf["origin_type"] == want[0] and leaf["origin_identity"].startswith(want[1])
    assert leaf["access_key_id"] == nxt.access_key_id


def test_lineage_survives_a_cycle_and_a_missing_parent(tmp_path, db):
    """Keys that point at each other (only hand-made data can) end the recursion; a chain whose
    first hop was not ingested starts at the first hop that was."""
    rng = random.Random(11)
    user = synth.iam_user(SHARED, "erin", "AKIAERINXXXXXXXXXXXX")
    a = synth.assume_role(T, user, f"arn:aws:iam::{PROD}:role/A", "a", source_ip=IP, user_agent=UA, rng=rng)
    b = synth.assume_role(
        T, a.session, f"arn:aws:iam::{PROD}:role/B", "b", source_ip=IP, user_agent=UA, rng=rng
    )
    load(db, tmp_path, b.records)  # a's issuing call is outside the trail
    [only] = rows(db, "select * from role_session_lineage")
    assert (only["depth"], only["origin_type"], only["origin_identity"]) == (
        1, "AssumedRole", a.session["arn"])  # fmt: skip
    cyc = json.loads(json.dumps(b.records))
    for r in cyc:  # make b's session the caller of the call that issued it
        r["userIdentity"]["accessKeyId"] = b.access_key_id
        r["eventID"] = r["eventID"][:-4] + "cccc"
    load(db, tmp_path, cyc, "cyc")
    assert rows(db, "select max(depth) as d from role_session_lineage")[0]["d"] <= 20


def test_corpus_iam_guide_pair_joins_into_one_row(db):
    con = store.connect(db)
    ingest(con, str(CORPUS / "events" / "awsdocs-iam-user-guide"), progress=Progress(enabled=False))
    con.close()
    pairs = rows(
        db, "select * from assume_role_pairs where shared_event_id = 'bEXAMPLE-efea-4a70-b951-19a88EXAMPLE'"
    )
    assert len(pairs) == 1
    p = pairs[0]
    assert (p["has_caller_side"], p["has_owner_side"]) == (True, True)
    assert (p["caller_account"], p["role_arn"], p["caller_arn"]) == (
        "777788889999",
        "arn:aws:iam::111122223333:role/EC2-dev",
        "arn:aws:iam::777788889999:user/JohnDoe",
    )
    # every AssumeRole-family record of this guide is in assume_role_events with its role ARN
    n = rows(db, "select count(*) as n, count(role_arn) as with_role from assume_role_events")[0]
    assert n["n"] == n["with_role"] == 16


class CountingConnection:
    """A real DuckDB connection that counts the queries run through it."""

    def __init__(self, con):
        self.con, self.queries = con, 0

    def execute(self, *args, **kwargs):
        self.queries += 1
        return self.con.execute(*args, **kwargs)


def test_chain_costs_one_lookup_per_hop(tmp_path, db):
    """chain climbs role_sessions by key: one indexed lookup per hop, plus the first match and
    the records that issued the key and the last session's actions; never a scan that grows
    with the history."""
    sso, hop2, hop3, action = three_hop_chain()
    load(db, tmp_path, sso.records + hop2.records + hop3.records + [action])
    con = store.connect(db, read_only=True)
    for key, hops in ((hop3.access_key_id, 3), (hop2.access_key_id, 2), (sso.access_key_id, 1)):
        counting = CountingConnection(con)
        c = chain.find(counting, key)
        assert c is not None and len(c.hops) == hops and c.matched == "access_key_id"
        assert counting.queries == hops + 3, (key, counting.queries)
    con.close()


def test_role_account_is_the_arns_account_field_as_it_is(tmp_path, db):
    """A parser-test sample names `arn:aws:iam::1111111111:role/user` (ten digits): the role's
    account is what the ARN says, not NULL, and the call is cross-account."""
    r = {
        "eventVersion": "1.08", "eventTime": "2024-05-01T10:00:00Z", "eventID": "short-account",
        "eventSource": "sts.amazonaws.com", "eventName": "AssumeRole", "awsRegion": "us-east-1",
        "sourceIPAddress": IP, "recipientAccountId": SHARED,
        "userIdentity": {"type": "IAMUser", "arn": f"arn:aws:iam::{SHARED}:user/a", "accountId": SHARED},
        "requestParameters": {"roleArn": "arn:aws:iam::1111111111:role/user", "roleSessionName": "s"},
    }  # fmt: skip
    load(db, tmp_path, [r])
    [row] = rows(db, "select role_account, is_cross_account from assume_role_events")
    assert (row["role_account"], row["is_cross_account"]) == ("1111111111", True)


def test_views_are_recreated_only_when_one_is_missing_or_stale(tmp_path):
    con = store.connect(tmp_path / "v.duckdb")
    store.init_db(con)

    def comments():
        return dict(
            con.execute("select view_name, comment from duckdb_views() where not internal").fetchall()
        )

    stamp = comments()["assume_role_events"]
    assert stamp.startswith("roletrail ") and set(comments().values()) == {stamp}
    assert set(comments()) == set(store.view_names())
    con.execute("drop view session_actions")
    con.execute("comment on view role_sessions is 'from an older roletrail'")
    store.init_db(con)
    assert set(comments()) == set(store.view_names()) and set(comments().values()) == {stamp}
    con.close()
