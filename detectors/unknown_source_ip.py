import datetime as dt

from detectors.base import Detector, Param

DETECTOR = Detector(
    id="unknown_source_ip",
    title="Unknown source IP",
    severity="high",
    attack=("T1078.004",),
    description=(
        "A cross-account assume whose source address is outside [network] known_cidrs (IPv4 and "
        "IPv6). AWS service callers are not addresses and are not flagged; malformed addresses "
        "and comma-separated lists never crash it, and a malformed address is reported as such. "
        "Without known_cidrs it learns each role's networks instead: an address in a /24 (IPv4) or "
        "/48 (IPv6) no successful assume of the role came from in 30 days, once the role has "
        "history (address_status new_network); configured CIDRs take precedence."
    ),
    runbook=(
        "Run `roletrail chain <event id>` to see the identity behind the call and what the session did.",
        "Look the address up in your egress inventory: a new NAT gateway, VPN or CI runner range "
        "belongs in [network] known_cidrs.",
        "If the address is not yours, treat the caller's credentials as compromised: disable the "
        "access key or revoke the sessions, and review the role's activity since first_seen.",
    ),
    false_positives=(
        "New office, VPN or CI egress ranges not yet in known_cidrs.",
        "Engineers travelling without the VPN.",
        "Learned: a new egress network (NAT gateway, office) that the role has not been used from yet.",
    ),
    params=(
        Param(
            "min_history_assumes",
            10,
            "learned (no known_cidrs): successful assumes of the role in the window before networks are judged",
            low=1,
            high=100_000,
        ),
        Param(
            "min_history_days",
            7,
            "learned (no known_cidrs): days the role must have been seen before networks are judged",
            low=0,
            high=365,
        ),
    ),
    lookback=dt.timedelta(days=30),
)
