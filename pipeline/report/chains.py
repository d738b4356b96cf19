"""Chains: for each alert, who really acted, from the origin identity through every role hop.

Alerts on the same chain (the same issuing events) share one drawing.
"""

from __future__ import annotations

from dataclasses import dataclass

from pipeline import chain as chain_mod
from pipeline.report.data import Alert, Data

MAX_CHAINS = 60
MAX_ACTIONS = 15  # of the last session, listed in the drawing
MAX_CHAIN_ALERTS = 5  # named in a chain's heading; the rest are counted
UA_CLIP = 140  # characters of a user agent shown in a hop box (the tooltip has up to 1,000)


@dataclass
class Hop:
    number: int
    row: dict  # a hop of pipeline.chain.Chain
    denied: bool

    def __getitem__(self, key):
        return self.row.get(key)

    @property
    def role_name(self) -> str:
        arn = self.row.get("role_arn")
        return arn.rsplit("/", 1)[-1] if arn else ""

    @property
    def cross_account(self) -> bool:
        caller, role = self.row.get("caller_account"), self.row.get("role_account")
        return bool(caller and role and caller != role)


@dataclass
class ChainView:
    chain: object  # pipeline.chain.Chain
    alerts: list[Alert]

    @property
    def hops(self) -> list[Hop]:
        ch = self.chain
        out = [Hop(i, h, denied=False) for i, h in enumerate(ch.hops, 1)]
        if ch.failed_hop:
            out.append(Hop(len(out) + 1, ch.failed_hop, denied=True))
        return out


def build_chains(con, data: Data) -> list[ChainView]:
    if "role_sessions" not in data.relations:
        return []
    views: dict[tuple, ChainView] = {}
    for a in data.alerts:
        if len(views) >= MAX_CHAINS:
            break
        if not a.first_event:
            continue
        ch = chain_mod.find(con, a.first_event)
        if ch is None or not (ch.hops or ch.failed_hop):
            continue
        key = tuple(h.get("issuing_eventid") for h in ch.hops) + (
            (ch.failed_hop or {}).get("issuing_eventid"),
        )
        if key in views:
            views[key].alerts.append(a)
        else:
            views[key] = ChainView(ch, [a])
    return list(views.values())
