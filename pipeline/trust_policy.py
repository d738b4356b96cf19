"""A trust policy document read the one way every engine reads it: each Allow statement, one
entry per principal, with the condition keys that narrow it.

Registered as the function `roletrail_trust_principals(document)` on DuckDB and Spark (the view
trust_policy_statements calls it), so a policy written as a string or a list, with a Principal
of `"*"`, `{"AWS": [...]}` or an account id as a JSON number, is flattened by the same Python on
every engine instead of by each engine's JSON functions."""

from __future__ import annotations

import json
import re

# (field, DuckDB type, Spark type): one definition for both registrations
FIELDS = (
    ("statement_no", "INTEGER", "int"),
    ("sid", "VARCHAR", "string"),
    ("principal_kind", "VARCHAR", "string"),
    ("principal", "VARCHAR", "string"),
    ("principal_account", "VARCHAR", "string"),
    ("is_wildcard", "BOOLEAN", "boolean"),
    ("actions", "VARCHAR", "string"),
    ("condition_keys", "VARCHAR[]", "array<string>"),
    ("conditions", "VARCHAR", "string"),
    ("statement", "VARCHAR", "string"),
)
# the columns of the view trust_policy_statements (and of the lake's table of it): the policy
# version's, then each principal entry's, with their Spark (Parquet) types
VERSION_COLUMNS = (
    ("version_id", "string"),
    ("eventtime", "timestamp_ntz"),
    ("role_arn", "string"),
    ("role_account", "string"),
    ("role_name", "string"),
)
COLUMNS = VERSION_COLUMNS + tuple((name, spark) for name, _, spark in FIELDS)
DUCKDB_TYPE = "STRUCT(" + ", ".join(f"{name} {duck}" for name, duck, _ in FIELDS) + ")[]"
SPARK_TYPE = "array<struct<" + ",".join(f"{name}:{spark}" for name, _, spark in FIELDS) + ">>"

# the principal kinds of a `"Principal": {...}` block ("*" is `"Principal": "*"`)
KINDS = ("AWS", "Service", "Federated", "CanonicalUser")
# an account id, arn:aws:iam::ID:root, or a role/user (or assumed-role) ARN all name an account
_ACCOUNT = re.compile(r"^([0-9]{12})$|^arn:aws[a-z-]*:(?:iam|sts)::([0-9]{12}):")


def _text(value) -> str | None:
    """A JSON value as text, as json_extract_string gives it: a string as it is, the rest as JSON."""
    if value is None or isinstance(value, str):
        return value
    return _json(value)


def _json(value) -> str | None:
    return None if value is None else json.dumps(value, separators=(",", ":"), ensure_ascii=False)


def _values(value) -> list:
    return value if isinstance(value, list) else [value]


def _principals(statement: dict) -> list[tuple[str, str]]:
    principal = statement.get("Principal")
    if isinstance(principal, dict):
        found = [(kind, _text(v)) for kind in KINDS if kind in principal for v in _values(principal[kind])]
        return [(kind, v) for kind, v in found if v is not None]
    return [("*", "*")] if principal == "*" else []


def _condition_keys(condition) -> list[str]:
    """The keys under each operator (`{"StringEquals": {"sts:ExternalId": ...}}`), lowercase:
    IAM condition keys are case-insensitive."""
    if not isinstance(condition, dict):
        return []
    return sorted({key.lower() for block in condition.values() if isinstance(block, dict) for key in block})


def principals(document: str | None) -> list[dict] | None:
    """Each Allow statement's principals of a trust policy (JSON text); None when it is not JSON."""
    if document is None:
        return None
    try:
        doc = json.loads(document)
    except ValueError:
        return None
    statements = doc.get("Statement") if isinstance(doc, dict) else None
    out = []
    for no, statement in enumerate(_values(statements)):
        if not isinstance(statement, dict) or (_text(statement.get("Effect")) or "").lower() != "allow":
            continue
        condition = statement.get("Condition")
        shared = {
            "statement_no": no,
            "sid": _text(statement.get("Sid")),
            "actions": _json(statement.get("Action")),
            "condition_keys": _condition_keys(condition),
            "conditions": _json(condition),
            "statement": _json(statement),
        }
        for kind, principal in _principals(statement):
            match = _ACCOUNT.match(principal)
            out.append(
                shared
                | {
                    "principal_kind": kind,
                    "principal": principal,
                    "principal_account": (match.group(1) or match.group(2)) if match else None,
                    "is_wildcard": kind == "*" or (kind == "AWS" and principal == "*"),
                }
            )
    return out
