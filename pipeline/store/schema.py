"""The `cloudtrail_logs` table: CloudTrail's record format mapped onto Athena-compatible columns.

One tree describes each field once: its CloudTrail (camelCase) name, its column
(lowercase, as in the AWS-documented Athena table) and its type. From it we derive
the table DDL, the `json_transform` schema the loader parses with, the SQL that
renames camelCase struct fields to lowercase, and the key sets that tell whether a
record has fields the typed columns do not cover (such records keep their raw JSON).
"""

from __future__ import annotations

import json

S = "VARCHAR"
J = "JSON"

# (json key, type); a dict is a struct, a one-element list is an array of it.
SESSION_ISSUER = {"type": S, "principalId": S, "arn": S, "accountId": S, "userName": S}
SESSION_CONTEXT = {
    "attributes": {"creationDate": S, "mfaAuthenticated": S},
    "sessionIssuer": SESSION_ISSUER,
    "webIdFederationData": J,
    "sourceIdentity": S,
    "ec2RoleDelivery": S,
    "assumedRoot": S,
}
USER_IDENTITY = {
    "type": S,
    "principalId": S,
    "arn": S,
    "accountId": S,
    "invokedBy": S,
    "accessKeyId": S,
    "userName": S,
    "onBehalfOf": {"userId": S, "identityStoreArn": S},
    "inScopeOf": J,
    "credentialId": S,
    "identityProvider": S,
    "sessionContext": SESSION_CONTEXT,
}
RECORD = {
    "eventVersion": S,
    "userIdentity": USER_IDENTITY,
    "eventTime": S,  # parsed to TIMESTAMP (UTC) by the loader
    "eventSource": S,
    "eventName": S,
    "awsRegion": S,
    "sourceIPAddress": S,
    "userAgent": S,
    "errorCode": S,
    "errorMessage": S,
    "requestParameters": J,
    "responseElements": J,
    "additionalEventData": J,
    "requestID": S,
    "eventID": S,
    "readOnly": S,
    "resources": [{"ARN": S, "accountId": S, "type": S}],
    "eventType": S,
    "apiVersion": S,
    "managementEvent": S,
    "recipientAccountId": S,
    "serviceEventDetails": J,
    "sharedEventID": S,
    "vpcEndpointId": S,
    "vpcEndpointAccountId": S,
    "eventCategory": S,
    "addendum": {"reason": S, "updatedFields": S, "originalRequestID": S, "originalEventID": S},
    "sessionCredentialFromConsole": S,
    "edgeDeviceDetails": J,
    "tlsDetails": {"tlsVersion": S, "cipherSuite": S, "clientProvidedHostHeader": S},
    "insightDetails": J,
}

# Columns roletrail adds after the CloudTrail ones.
EXTRA_COLUMNS = [
    # the whole record as JSON when it has fields (or a time format, or a missing eventID)
    # the typed columns do not reproduce; NULL otherwise
    ("raw_record", J),
    ("source_key", S),  # the object (s3://bucket/key or local path) the record came from
    ("record_index", "INTEGER"),  # position in that object's Records array
    ("record_hash", "UBIGINT"),  # hash of the record's JSON text: exact-duplicate detection
    ("eventid_derived", "BOOLEAN"),  # eventid was missing and is derived from the content
    ("ingested_at", "TIMESTAMP"),
]

# Where a record's keys are checked against the known ones (json path -> known keys).
CHECKED_OBJECTS = {
    "$": RECORD,
    "$.userIdentity": USER_IDENTITY,
    "$.userIdentity.sessionContext": SESSION_CONTEXT,
    "$.userIdentity.sessionContext.sessionIssuer": SESSION_ISSUER,
    "$.userIdentity.sessionContext.attributes": SESSION_CONTEXT["attributes"],
    "$.tlsDetails": RECORD["tlsDetails"],
}


def duck_type(t, lower: bool = True) -> str:
    """DuckDB type text for a schema node (lowercase field names for the table)."""
    if isinstance(t, str):
        return t
    if isinstance(t, list):
        return duck_type(t[0], lower) + "[]"
    fields = ", ".join(f'"{k.lower() if lower else k}" {duck_type(v, lower)}' for k, v in t.items())
    return f"STRUCT({fields})"


def column_name(key: str) -> str:
    return key.lower()


def transform_schema() -> str:
    """The json_transform schema (camelCase keys, as in the records)."""

    def node(t):
        if isinstance(t, str):
            return t
        if isinstance(t, list):
            return [node(t[0])]
        return {k: node(v) for k, v in t.items()}

    return json.dumps(node(RECORD))


def _q(name: str) -> str:
    return '"' + name + '"'


def column_expressions(src: str) -> dict[str, str]:
    """column -> SQL expression over `src`, the json_transform result (eventtime excluded).

    The camelCase struct fields need no renaming: an insert casts a struct to the column's
    type by field name, and DuckDB matches names case-insensitively."""
    return {column_name(k): f"{src}.{_q(k)}" for k in RECORD if k != "eventTime"}


def table_columns() -> list[tuple[str, str]]:
    cols = []
    for k, v in RECORD.items():
        cols.append((column_name(k), "TIMESTAMP" if k == "eventTime" else duck_type(v)))
    return cols + EXTRA_COLUMNS
