import datetime as dt

from detectors.base import Detector, Param

DETECTOR = Detector(
    id="novel_session_name",
    title="Novel session name",
    severity="medium",
    attack=("T1078.004",),
    description=(
        "A RoleSessionName whose shape was never seen for this role in the baseline window, once "
        "the role has enough history. The shape keeps the words and makes every random id one "
        "{id} (digits, hex of any length, uuid fragments, base32/64 runs, timestamps; "
        "e-mail addresses are {email}): deploy-4711 and export-1f2e3d4c-fefb are deploy-{id} and "
        "export-{id}. Automation uses stable session names; a new shape is a new client."
    ),
    runbook=(
        "Run `roletrail chain <event id>` to see who assumed the role under the new name.",
        "Compare with the role's usual session names (details.shape and the baseline): a new "
        "tool version or pipeline explains it; a hand-typed name on an automation role does not.",
        "If unexplained, review what the session did and revoke it.",
    ),
    false_positives=(
        "A new version of an automation tool that changed its session naming.",
        "New people using a shared role with their own naming.",
    ),
    params=(
        Param(
            "min_history_assumes",
            20,
            "assumes of the role in the baseline window before names are judged",
            low=1,
            high=100_000,
        ),
        Param(
            "min_history_days",
            7,
            "days the role must have been seen before names are judged",
            low=0,
            high=365,
        ),
    ),
    lookback=dt.timedelta(days=30),
    baseline="session name shapes of the role's successful assumes in the last 30 days, keyed on the role ARN",
)
