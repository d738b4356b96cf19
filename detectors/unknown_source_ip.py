from detectors.base import Detector

DETECTOR = Detector(
    id="unknown_source_ip",
    title="Unknown source IP",
    severity="high",
    attack=("T1078.004",),
    description=(
        "A cross-account assume whose source address is outside [network] known_cidrs (IPv4 and "
        "IPv6). AWS service callers are not addresses and are not flagged; malformed addresses "
        "and comma-separated lists never crash it, and a malformed address is reported as such."
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
    ),
)
