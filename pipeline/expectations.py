"""`[organization]` and `[[roles]]`: which accounts are ours, and what a role's sessions must look
like (its owner's intent), and how both reach the detectors' queries.

Globs are compiled to regexes here (pipeline.detect.glob_pattern), so no query needs an engine's
glob; the entries reach the queries as small tables (pipeline.detect PARAM_TABLES).
`[source_identity] required` is the older spelling of a `[[roles]]` entry with only
`source_identity`: both feed missing_source_identity's table (`required_pairs`).
"""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, StrictBool, StrictStr

AccountId = Annotated[StrictStr, Field(pattern=r"^\d{12}$")]


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


def _pattern(glob: str) -> str:
    from pipeline.detect import glob_pattern  # the one glob -> regex translation

    return glob_pattern(glob)


def any_of(globs: list[str]) -> str:
    """One anchored regex matching any of the globs."""
    return "^(?:" + "|".join(_pattern(g)[1:-1] for g in globs) + ")$"


def literal(text: str) -> str:
    """A value matched exactly (a tag value may contain `*`), escaped as glob_pattern escapes."""
    return "".join(
        "\\" + ch if ch in "]^\\" else "[" + ch + "]" if ch in ".+()[{}|$*?" else ch for ch in text
    )


def required_pairs(cfg) -> list[tuple[str, str]]:
    """(role glob, source identity glob): [source_identity] required and [[roles]] source_identity."""
    pairs = list(cfg.source_identity.required.items())
    pairs += [(r.arn, r.source_identity) for r in cfg.roles if r.source_identity]
    return pairs


def required_rows(cfg) -> list[tuple]:
    return [(role, _pattern(role), ident, _pattern(ident)) for role, ident in required_pairs(cfg)]


ROLE_COLUMNS = (
    "role_no", "arn_glob", "role_pattern", "source_identity_pattern", "session_policy",
    "max_duration_seconds", "caller_pattern", "external_id", "subject_pattern",
)  # fmt: skip


def role_rows(cfg) -> list[tuple]:
    """One row per [[roles]] entry: regexes ('' = no expectation), flags as 'true'/'false'."""
    rows = []
    for no, r in enumerate(cfg.roles, 1):
        si = r.source_identity
        rows.append(
            (
                str(no),
                r.arn,
                _pattern(r.arn),
                # "*" means any non-empty value (the [source_identity] convention)
                "" if not si else "^.+$" if si == "*" else _pattern(si),
                str(r.session_policy).lower(),
                str(r.max_duration_seconds or 0),
                any_of(r.caller_accounts) if r.caller_accounts is not None else "",
                str(r.external_id).lower(),
                any_of(r.web_identity_subjects) if r.web_identity_subjects else "",
            )
        )
    return rows


TAG_COLUMNS = ("role_no", "tag_key", "allowed_pattern")


def tag_rows(cfg) -> list[tuple]:
    """One row per (role entry, tag key): the key in lowercase (STS tag keys are
    case-insensitive) and a regex of its allowed values."""
    return [
        (str(no), key.lower(), "^(?:" + "|".join(literal(v) for v in allowed) + ")$")
        for no, r in enumerate(cfg.roles, 1)
        for key, allowed in r.session_tags.items()
    ]


def subject_role_rows(cfg) -> list[tuple]:
    """Roles whose OIDC subjects are configured: their subjects are an expectation, not learned."""
    return [(_pattern(r.arn),) for r in cfg.roles if r.web_identity_subjects]
