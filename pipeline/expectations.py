"""`[organization]` and `[[roles]]`: which accounts are ours, and what a role's sessions must look
like (its owner's intent), and how both reach the detectors' queries.

Globs are compiled to regexes here, once, so no query needs an engine's glob; each role entry
reaches SQL as one JSON text in a list (one `unnest`, then `json_extract_string`), which every
engine can bind and read. `[source_identity] required` is the older spelling of a `[[roles]]`
entry with only `source_identity`: both feed missing_source_identity (`required_pairs`).
"""

from __future__ import annotations

import json
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, StrictBool, StrictStr

AccountId = Annotated[StrictStr, Field(pattern=r"^\d{12}$")]
_META = set(".^$|+()[]{}\\")


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Organization(_Strict):
    # the organization's accounts; every other account is external. Empty: the accounts whose
    # records are in the trail stand in for them
    accounts: list[AccountId] = []


class RoleExpectation(_Strict):
    arn: StrictStr = Field(min_length=1)  # glob
    source_identity: StrictStr | None = Field(default=None, min_length=1)  # glob; "*" = any non-empty
    session_policy: StrictBool = False  # every assume passes `policy` or `policyArns`
    max_duration_seconds: int | None = Field(default=None, ge=900, le=43200)
    caller_accounts: list[AccountId] | None = None
    external_id: StrictBool = False  # every assume carries sts:ExternalId
    session_tags: dict[str, list[StrictStr]] = {}  # tag key -> allowed values
    web_identity_subjects: list[StrictStr] | None = None  # OIDC subject globs


def glob_regex(glob: str) -> str:
    """A glob (`*`, `?`) as an anchored regex that RE2, Java and Python read the same way."""
    out = []
    for ch in glob:
        if ch == "*":
            out.append(".*")
        elif ch == "?":
            out.append(".")
        elif ch in _META:
            out.append("\\" + ch)
        else:
            out.append(ch)
    return "^" + "".join(out) + "$"


def literal(text: str) -> str:
    """A value matched exactly (a tag value may contain `*`)."""
    return "".join("\\" + ch if ch in _META or ch in "*?" else ch for ch in text)


def any_of(globs: list[str]) -> str:
    return "^(?:" + "|".join(glob_regex(g)[1:-1] for g in globs) + ")$"


def required_pairs(cfg) -> list[tuple[str, str]]:
    """(role glob, source identity glob): [source_identity] required and [[roles]] source_identity."""
    pairs = list(cfg.source_identity.required.items())
    pairs += [(r.arn, r.source_identity) for r in cfg.roles if r.source_identity]
    return pairs


def role_rules(cfg) -> list[str]:
    """One JSON text per [[roles]] entry: its number, regexes ('' = no expectation) and flags."""
    rules = []
    for no, r in enumerate(cfg.roles, 1):
        rules.append(
            json.dumps(
                {
                    "role_no": no,
                    "arn_glob": r.arn,
                    "role_pattern": glob_regex(r.arn),
                    # "*" means any non-empty value (the [source_identity] convention)
                    "source_identity": "" if not r.source_identity else "^.+$"
                    if r.source_identity == "*" else glob_regex(r.source_identity),
                    "session_policy": r.session_policy,
                    "max_duration_seconds": r.max_duration_seconds or 0,
                    "caller_accounts": any_of(r.caller_accounts) if r.caller_accounts is not None else "",
                    "external_id": r.external_id,
                    "subjects": any_of(r.web_identity_subjects) if r.web_identity_subjects else "",
                }
            )
        )  # fmt: skip
    return rules


def tag_rules(cfg) -> list[str]:
    """One JSON text per (role entry, tag key): the key (lowercase: STS tag keys are
    case-insensitive) and a regex of its allowed values."""
    rules = []
    for no, r in enumerate(cfg.roles, 1):
        for key, allowed in r.session_tags.items():
            pattern = "^(?:" + "|".join(literal(v) for v in allowed) + ")$"
            rules.append(json.dumps({"role_no": no, "key": key.lower(), "allowed": pattern}))
    return rules


def subject_role_patterns(cfg) -> list[str]:
    """Roles whose OIDC subjects are configured: their subjects are an expectation, not learned."""
    return [glob_regex(r.arn) for r in cfg.roles if r.web_identity_subjects]
