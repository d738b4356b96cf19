import datetime as dt
import difflib
import json

from detectors.base import Detector

RULES = {
    "wildcard_principal": "allows any principal (*) without a condition that narrows it",
    "external_account_without_external_id": "trusts an account outside the organization without sts:ExternalId",
    "condition_dropped": "drops a condition the previous version had",
    "principal_added": "adds a principal in another account",
}


def _doc(value):
    return json.loads(value) if isinstance(value, str) else value


def _statement(doc, no):
    statements = (doc or {}).get("Statement")
    if isinstance(statements, dict):
        statements = [statements]
    if isinstance(statements, list) and 0 <= no < len(statements):
        return statements[no]
    return None


def _finding(text: str) -> dict:
    rule, no, principal = text.split(" ", 2)
    return {"rule": rule, "principal": principal, "statement_no": int(no)}


def diff(before, after) -> str:
    """The trust policy's change as a unified diff of the pretty-printed documents."""
    old = json.dumps(before, indent=2, sort_keys=True).splitlines() if before is not None else []
    new = json.dumps(after, indent=2, sort_keys=True).splitlines()
    return "\n".join(difflib.unified_diff(old, new, "before", "after", lineterm="", n=2))


def postprocess(rows, params):
    """Name each rule, quote its statement and add the before/after diff (details.diff)."""
    out = []
    for row in rows:
        d = json.loads(row["details"])
        before, after = _doc(d.pop("before")), _doc(d.pop("after"))
        d["findings"] = [_finding(text) for text in d["findings"]]
        for f in d["findings"]:
            f["explanation"] = RULES[f["rule"]]
            # a dropped condition was in the previous version, not in one statement of the new one
            quoted = _statement(after, f["statement_no"]) if f["statement_no"] >= 0 else None
            if quoted is not None:
                f["statement"] = quoted
            if f.pop("statement_no") < 0:
                f["condition_key"] = f.pop("principal")  # what was dropped, in IAM's lowercase
        d["findings"].sort(key=lambda f: (f["rule"], f.get("principal") or f.get("condition_key") or ""))
        d["rules"] = sorted(d["rules"])
        d["diff"] = diff(before, after)
        d["before"], d["after"] = before, after
        title = f"Trust policy of {row['role_arn']} weakened: " + "; ".join(RULES[r] for r in d["rules"])
        out.append(row | {"details": json.dumps(d), "title": title})
    return out


DETECTOR = Detector(
    id="trust_policy_weakened",
    title="Trust policy weakened",
    severity="high",
    attack=("T1098", "T1098.003", "T1199"),
    description=(
        "A new trust policy version (CreateRole or UpdateAssumeRolePolicy) that allows `*` without "
        "a narrowing condition (aws:PrincipalOrgID, aws:PrincipalArn, aws:SourceAccount, "
        "aws:SourceArn, sts:ExternalId; critical when it has no condition at all), trusts an "
        "account outside [organization] accounts without sts:ExternalId, or, against the role's "
        "previous version, drops sts:ExternalId, sts:SourceIdentity, aws:PrincipalOrgID, "
        "aws:SourceAccount or aws:SourceArn, or adds a principal in another account. Tightening "
        "and service principals (lambda.amazonaws.com, ...) are not findings. The alert names each "
        "rule, quotes the statement and carries the before/after diff (details.diff)."
    ),
    runbook=(
        "Read details.diff: what the change let in, and details.findings for each statement.",
        "Ask who changed it (caller_arn) and why; a vendor onboarding needs sts:ExternalId, an "
        "organization-wide role needs aws:PrincipalOrgID.",
        "If unexplained, restore the previous version (details.before) with "
        "`aws iam update-assume-role-policy` and review the role's sessions since first_seen.",
    ),
    false_positives=(
        "A new vendor integration whose external id is enforced elsewhere (add sts:ExternalId anyway).",
        "Accounts of the organization missing from [organization] accounts.",
    ),
    lookback=dt.timedelta(0),
    postprocess=postprocess,
)
