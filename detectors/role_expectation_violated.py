import datetime as dt
import json

from detectors.base import Detector

# what each broken expectation is called in an alert, in the [[roles]] key order
LABELS = {
    "source_identity": "source identity",
    "session_policy": "no session policy",
    "max_duration_seconds": "session longer than allowed",
    "caller_accounts": "caller account not allowed",
    "external_id": "no external id",
    "session_tags": "session tag value not allowed",
    "web_identity_subjects": "OIDC subject not allowed",
}


def postprocess(rows, params):
    """Name the broken expectations (details.broken) and put them in the title."""
    out = []
    for row in rows:
        d = json.loads(row["details"])
        # one query returns both kinds; each keeps only its own details
        d = {k: v for k, v in d.items() if v is not None}
        if d["kind"] != "expectation":
            d.pop("broke", None)
            out.append(row | {"details": json.dumps(d)})
            continue
        flags = d.pop("broke")
        broken = [key for key in LABELS if flags.get(key)]
        d["broken"] = broken
        title = f"Assume of {row['role_arn']} breaks its [[roles]] expectations: " + ", ".join(
            LABELS[k] for k in broken
        )
        out.append(row | {"details": json.dumps(d), "title": title})
    return out


DETECTOR = Detector(
    id="role_expectation_violated",
    title="Role expectation violated",
    severity="high",
    attack=("T1078.004", "T1550.001"),
    description=(
        "A successful assume of a role matched by a [[roles]] entry that breaks what its owner "
        "requires: session_policy (neither policy nor policyArns passed), max_duration_seconds, "
        "caller_accounts, external_id (no externalId), session_tags (a listed key set to a value "
        "outside its list) or web_identity_subjects (an OIDC subject outside the globs). One alert "
        "per role, caller and day, naming every broken expectation (details.broken), the source "
        "identity included; a source identity alone is missing_source_identity's alert. Also the "
        "confused-deputy probe: one caller outside the organization passing more than one distinct "
        "sts:ExternalId for one role within a day."
    ),
    runbook=(
        "Run `roletrail chain <event id>` to see who started the session and what it did.",
        "Compare details.broken with the role's intent: a caller that skips the session policy "
        "or asks for a longer session is not the broker the role was built for.",
        "For an external id probe, ask the vendor which external id is yours; several from one "
        "account mean it tries other customers' ids (or one customer's id is being guessed).",
        "If unexplained, revoke the role's sessions (AWSRevokeOlderSessions) and tighten the "
        "trust policy so the expectation is enforced (sts:ExternalId, aws:RequestTag conditions).",
    ),
    false_positives=(
        "A [[roles]] entry stricter than the trust policy while a client is being migrated.",
        "A vendor that legitimately serves several of your accounts through one role ARN pattern.",
    ),
    lookback=dt.timedelta(days=1),
    postprocess=postprocess,
)
