"""`roletrail chain ID`: from the origin identity through every hop to what the last session did.

ID is an event id, a sharedEventID or an access key id. The issued access key of each
AssumeRole is the caller access key of the next hop, so walking `role_sessions` by
`parent_access_key_id` climbs the chain to its origin.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from pipeline.output import jsonable
from pipeline.store import rows
from pipeline.text import visible

MAX_HOPS = 20

SESSION_COLUMNS = [
    "access_key_id", "issuing_eventid", "shared_event_id", "issued_at", "eventname", "role_arn",
    "role_account", "role_session_name", "source_identity", "source_ip", "user_agent", "caller_type",
    "caller_arn", "caller_account", "caller_access_key_id", "caller_principal_id", "caller_user_name",
    "caller_identity_provider", "caller_invoked_by", "duration_seconds", "parent_access_key_id",
]  # fmt: skip


@dataclass
class Chain:
    query: str
    matched: str  # what the ID was: eventid, sharedeventid, access_key_id
    hops: list[dict] = field(default_factory=list)  # origin first
    failed_hop: dict | None = None  # a denied assume the ID pointed at
    actions: list[dict] = field(default_factory=list)
    event: dict | None = None  # the event the ID named, when it was an action of a session
    # every record the ID matched (the chain follows the first); more than one means the
    # logs disagree (one access key issued by several records, an event id reused)
    candidates: list[str] = field(default_factory=list)

    @property
    def origin(self) -> dict:
        first = self.failed_hop if not self.hops else self.hops[0]
        if first is None:
            return {}
        ident = first.get("caller_arn") or first.get("caller_invoked_by")
        if first.get("caller_type") in ("SAMLUser", "WebIdentityUser"):
            who = first.get("caller_user_name") or first.get("caller_principal_id")
            ident = f"{first['caller_type']}:{who}" + (
                f"@{first['caller_identity_provider']}" if first.get("caller_identity_provider") else ""
            )
        return {
            "type": first.get("caller_type"),
            "identity": ident or first.get("caller_principal_id"),
            # federated users have no account of their own: they arrive in the role's account
            "account": first.get("caller_account") or first.get("role_account"),
            "source_ip": first.get("source_ip"),
            "complete": first.get("caller_type") != "AssumedRole",
        }

    def as_json(self) -> dict:
        return jsonable(
            {
                "query": self.query,
                "matched": self.matched,
                "origin": self.origin,
                "hops": self.hops + ([self.failed_hop] if self.failed_hop else []),
                "event": self.event,
                "actions": self.actions,
                "candidates": self.candidates,
            }
        )


def _sessions(con, key: str) -> list[dict]:
    return rows(
        con,
        f"select {', '.join(SESSION_COLUMNS)} from role_sessions where access_key_id = $k order by issued_at",
        {"k": key},
    )


def _session(con, key: str) -> dict | None:
    rows = _sessions(con, key)
    return rows[0] if rows else None


def _hop_from_event(ev: dict) -> dict:
    return {c: ev.get(c) for c in SESSION_COLUMNS} | {
        "access_key_id": ev.get("issued_access_key_id"),
        "issuing_eventid": ev["eventid"],
        "issued_at": ev["eventtime"],
        "error_code": ev.get("error_code"),
        "error_message": ev.get("error_message"),
        "parent_access_key_id": ev.get("caller_access_key_id")
        if ev.get("caller_type") == "AssumedRole"
        else None,
    }


def find(con, ident: str) -> Chain | None:
    """Resolve ID and build its chain, or None when nothing matches."""
    ident = ident.strip()
    sessions = _sessions(con, ident)
    chain: Chain
    if sessions:
        chain = Chain(ident, "access_key_id")
        # role_sessions keeps one issuing call per key; the logs may hold more
        issuers = rows(
            con,
            """select eventid, shared_event_id from assume_role_events
               where issued_access_key_id = $k and succeeded order by is_owner_copy, eventtime, eventid""",
            {"k": ident},
        )
        calls = {}
        for r in issuers:  # both accounts' copies of one cross-account call are one call
            calls.setdefault(r["shared_event_id"] or r["eventid"], r["eventid"])
        chain.candidates = list(calls.values())
        last_key = ident
    else:
        events = rows(
            con,
            """select * from assume_role_events where eventid = $id or shared_event_id = $id
               order by is_owner_copy, eventtime""",
            {"id": ident},
        )
        if events:
            ev = events[0]
            chain = Chain(ident, "eventid" if ev["eventid"] == ident else "sharedeventid")
            chain.candidates = [e["eventid"] for e in events]
            if ev["succeeded"] and ev["issued_access_key_id"] and _session(con, ev["issued_access_key_id"]):
                last_key = ev["issued_access_key_id"]
            else:
                # a denied (or key-less) assume: the chain up to its caller, then this hop
                chain.failed_hop = _hop_from_event(ev)
                last_key = chain.failed_hop["parent_access_key_id"]
        else:
            other = rows(
                con,
                """select eventid, eventtime, eventsource, eventname, errorcode, sourceipaddress as source_ip,
                          useridentity.type as caller_type, useridentity.arn as caller_arn,
                          useridentity.accesskeyid as access_key_id, recipientaccountid, sharedeventid
                   from cloudtrail_logs where eventid = $id or sharedeventid = $id
                   order by eventid <> $id, eventtime limit 50""",
                {"id": ident},
            )
            if not other:
                return None
            chain = Chain(ident, "eventid" if other[0]["eventid"] == ident else "sharedeventid")
            chain.candidates = [o["eventid"] for o in other]
            chain.event = other[0]
            last_key = other[0]["access_key_id"] if other[0]["caller_type"] == "AssumedRole" else None
    chain.hops = _ancestors(con, last_key)
    final_key = chain.hops[-1]["access_key_id"] if chain.hops else None
    if final_key and not chain.failed_hop:
        chain.actions = rows(
            con,
            """select eventsource, eventname, calls, errors, first_seen, last_seen
               from session_actions where access_key_id = $k order by first_seen, eventname""",
            {"k": final_key},
        )
    return chain


def _ancestors(con, key: str | None) -> list[dict]:
    hops: list[dict] = []
    seen = set()
    while key and key not in seen and len(hops) < MAX_HOPS:
        seen.add(key)
        s = _session(con, key)
        if s is None:
            break
        hops.append(s)
        key = s["parent_access_key_id"]
    hops.reverse()
    return hops


VALUE_LIMIT = 300  # characters of one log value shown, as in Slack and email


def _v(value, limit: int = VALUE_LIMIT) -> str:
    """A log value for the terminal: hidden characters escaped, clipped, '-' when absent."""
    if value is None or value == "":
        return "-"
    return visible(jsonable(value) if not isinstance(value, str) else value, limit)


def render(chain: Chain) -> str:
    """Plain text for a terminal. Every value from the logs goes through _v()."""
    o = chain.origin
    lines = [f"chain for {_v(chain.query)} (matched {chain.matched})"]
    if len(chain.candidates) > 1:
        shown = ", ".join(_v(c, 64) for c in chain.candidates[:5])
        more = f" and {len(chain.candidates) - 5} more" if len(chain.candidates) > 5 else ""
        lines.append(f"note    {len(chain.candidates)} records match: {shown}{more}; following the first")
    if o:
        where = f" from {_v(o['source_ip'])}" if o.get("source_ip") else ""
        note = "" if o.get("complete") else "  (its issuing assume was not ingested)"
        account = _v(o["account"]) if o.get("account") else "unknown"
        lines.append(f"origin  {_v(o['type'])} {_v(o['identity'])} (account {account}){where}{note}")
    for i, h in enumerate(chain.hops + ([chain.failed_hop] if chain.failed_hop else []), 1):
        lines.append(
            f"hop {i}   {_v(h['issued_at'])}  {_v(h.get('caller_account') or h.get('caller_type'))}"
            f" -> {_v(h.get('role_arn'))}  session {_v(h.get('role_session_name'))}"
        )
        lines.append(
            f"        source identity {_v(h.get('source_identity'))}  from {_v(h.get('source_ip'))}"
            f"  agent {_v(h.get('user_agent'))}  event {_v(h.get('issuing_eventid'))}"
        )
        if h.get("error_code"):
            lines.append(f"        DENIED {_v(h['error_code'])}: {_v(h.get('error_message'))}")
        elif h.get("access_key_id"):
            lines.append(f"        issued key {_v(h['access_key_id'])}")
    if chain.event:
        e = chain.event
        error = f" {_v(e['errorcode'])}" if e.get("errorcode") else ""
        lines.append(
            f"event   {_v(e['eventtime'])} {_v(e['eventsource'])} {_v(e['eventname'])}{error}"
            f" by {_v(e.get('caller_arn') or e.get('caller_type'))}"
        )
    if chain.actions:
        lines.append(f"actions of the last session ({_v(chain.hops[-1]['access_key_id'])}):")
        for a in chain.actions:
            err = f", {a['errors']} errors" if a["errors"] else ""
            lines.append(
                f"        {_v(a['eventsource'])} {_v(a['eventname'])} x{a['calls']}{err}"
                f"  {_v(a['first_seen'])} .. {_v(a['last_seen'])}"
            )
    elif chain.hops and not chain.failed_hop:
        lines.append("actions of the last session: none ingested")
    return "\n".join(lines)
