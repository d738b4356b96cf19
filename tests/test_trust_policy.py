"""pipeline/trust_policy.py: the one reading of a trust policy (DuckDB and Spark both call it),
on the shapes IAM accepts; and the view trust_policy_statements built on it."""

import json

from pipeline import store
from pipeline.trust_policy import principals


def _doc(*statements, one=False):
    return json.dumps({"Version": "2012-10-17", "Statement": statements[0] if one else list(statements)})


def test_statement_as_an_object_and_principals_as_string_list_and_number():
    rows = principals(
        _doc(
            {
                "Effect": "Allow",
                "Principal": {
                    "AWS": ["arn:aws:iam::111122223333:root", 444455556666],
                    "Service": "ec2.amazonaws.com",
                },
                "Action": "sts:AssumeRole",
                "Condition": {"StringEquals": {"sts:ExternalId": "x", "aws:SourceAccount": "1"}},
            },
            one=True,
        )
    )
    assert [
        (r["statement_no"], r["principal_kind"], r["principal"], r["principal_account"]) for r in rows
    ] == [
        (0, "AWS", "arn:aws:iam::111122223333:root", "111122223333"),
        (0, "AWS", "444455556666", "444455556666"),
        (0, "Service", "ec2.amazonaws.com", None),
    ]
    assert rows[0]["condition_keys"] == ["aws:sourceaccount", "sts:externalid"]
    assert json.loads(rows[0]["conditions"]) == {
        "StringEquals": {"sts:ExternalId": "x", "aws:SourceAccount": "1"}
    }
    assert rows[0]["actions"] == '"sts:AssumeRole"' and not any(r["is_wildcard"] for r in rows)


def test_wildcards_deny_and_nothing_to_read():
    rows = principals(
        _doc(
            {"Effect": "Deny", "Principal": "*", "Action": "sts:AssumeRole"},
            {"Effect": "allow", "Principal": "*", "Action": "sts:AssumeRole"},
            {"Effect": "Allow", "Principal": {"AWS": "*"}, "Action": "sts:AssumeRole"},
            {"Effect": "Allow", "Principal": {"AWS": None, "Federated": []}, "Action": "sts:AssumeRole"},
        )
    )
    # Effect is case-insensitive; a Deny is no way in; a null or empty principal names nobody
    assert [(r["statement_no"], r["principal_kind"], r["is_wildcard"], r["conditions"]) for r in rows] == [
        (1, "*", True, None),
        (2, "AWS", True, None),
    ]
    assert principals("{not json") is None and principals(None) is None
    assert principals('"a string"') == [] and principals('{"Statement": "x"}') == []


def test_the_view_reads_policies_through_the_function(tmp_path):
    con = store.connect(tmp_path / "t.duckdb")
    store.init_db(con)
    doc = _doc({"Effect": "Allow", "Principal": {"AWS": "999988887777"}, "Action": "sts:AssumeRole"})
    con.execute(
        """insert into cloudtrail_logs (eventid, eventtime, eventsource, eventname, recipientaccountid,
           requestparameters) values ('e1', timestamp '2024-05-01 10:00:00', 'iam.amazonaws.com',
           'UpdateAssumeRolePolicy', '111122223333', $p)""",
        {"p": json.dumps({"roleName": "Vendor", "policyDocument": doc})},
    )
    rows = store.rows(
        con, "select role_arn, principal, principal_account, condition_keys from trust_policy_statements"
    )
    con.close()
    assert rows == [
        {
            "role_arn": "arn:aws:iam::111122223333:role/Vendor",
            "principal": "999988887777",
            "principal_account": "999988887777",
            "condition_keys": [],
        }
    ]
