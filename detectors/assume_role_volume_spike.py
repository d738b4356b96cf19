import datetime as dt
import json

from detectors.base import Detector, Param

FEATURES = ("assumes", "callers", "source_ips", "error_ratio")
# the smallest spread a baseline is given, so a quiet, constant role does not turn noise into z
SPREAD_FLOOR = {"assumes": 2.0, "callers": 1.0, "source_ips": 1.0, "error_ratio": 0.1}
LABELS = {
    "assumes": "AssumeRole calls",
    "callers": "distinct callers",
    "source_ips": "distinct source IPs",
    "error_ratio": "error ratio",
}


def _z(value, stats, feature):
    med = stats.get("median") or 0.0
    spread = max((stats.get("iqr") or 0.0) / 1.349, SPREAD_FLOOR[feature], 0.25 * med)
    return (value - med) / spread


def _robust(feats, base, z, params) -> bool:
    return (
        feats["assumes"] >= params["min_assumes"]
        and z["assumes"] >= params["z_threshold"]
        and feats["assumes"] > params["over_max_ratio"] * (base["assumes"]["max"] or 0)
    )


def _model_candidate(feats, base, z, params) -> bool:
    """An hour the model may flag: enough history, and its most unusual feature beyond anything
    the baseline saw (a busy but ordinary hour scores high on z alone)."""
    top = max(FEATURES, key=lambda f: z[f])
    return (
        base["hours"] >= params["min_model_baseline_hours"]
        and feats["assumes"] >= params["min_assumes_model"]
        and top != "error_ratio"
        and z[top] >= params["z_threshold"]
        and feats[top] > (base[top].get("max") or 0)
    )


def postprocess(rows, params):
    """Score each role-hour: a robust score on the count, and an IsolationForest on all features."""
    hours = []
    for row in rows:
        d = json.loads(row["details"])
        base = d["baseline"]
        z = {f: _z(d["features"][f] or 0.0, base[f], f) for f in FEATURES}
        hours.append((row, d, z, base["hours"] >= params["min_baseline_hours"]))
    judged = [h for h in hours if h[3]]
    # the model is fitted only when some hour of the window could be flagged by it alone
    window = [
        i
        for i, (_, d, z, _) in enumerate(judged)
        if d["in_window"] and not _robust(d["features"], d["baseline"], z, params)
        and _model_candidate(d["features"], d["baseline"], z, params)
    ]  # fmt: skip
    scores: dict[int, float] = {}
    if window and len(judged) >= 50:
        import numpy as np
        from sklearn.ensemble import IsolationForest

        x = np.array([[h[2][f] for f in FEATURES] for h in judged])
        model = IsolationForest(n_estimators=100, contamination=params["model_contamination"], random_state=0)
        model.fit(x)
        # one call for all candidates (per-row calls cost ~2 ms each)
        values = model.decision_function(x[window])
        scores = {id(judged[i][0]): float(v) for i, v in zip(window, values, strict=True)}
    out = []
    for row, d, z, has_baseline in hours:
        if not d["in_window"]:
            continue
        feats = d["features"]
        base = d["baseline"]
        reason = None
        if has_baseline:
            if _robust(feats, base, z, params):
                reason = "robust"
            elif scores.get(id(row), 0.0) < 0:
                reason = "model"
                d["model_score"] = round(scores[id(row)], 4)
        elif feats["assumes"] >= params["new_role_min_assumes"]:
            reason = "new_role"
        if reason is None:
            continue
        top = "assumes" if reason != "model" else max(FEATURES, key=lambda f: z[f])
        stats = base.get(top, {})
        d["trigger"] = reason
        d["anomalous_feature"] = top
        d["robust_z"] = {f: round(z[f], 2) for f in FEATURES}
        median = stats.get("median")
        d["explanation"] = (
            f"{LABELS[top]} {feats[top]:g} vs baseline median {median:g} (robust z {z[top]:.1f})"
            if median is not None
            else f"{LABELS[top]} {feats[top]:g} on a role with no baseline"
        )
        severity = "high" if reason == "robust" and z["assumes"] >= 3 * params["z_threshold"] else "medium"
        out.append(row | {"details": json.dumps(d), "severity": severity})
    return out


DETECTOR = Detector(
    id="assume_role_volume_spike",
    title="Assume role volume spike",
    severity="medium",
    attack=("T1078.004", "T1098"),
    description=(
        "Per role, successful AssumeRole calls per hour (a burst of denied ones is "
        "access_denied_cluster's, so one incident raises one alert) against the role's own trailing baseline: a robust "
        "score (median and interquartile range over the role's active hours) with a floor, so a "
        "quiet role going from 0 to 3 is not a spike; plus an IsolationForest over per-role-hour "
        "features (count, distinct callers, distinct source IPs, error ratio). The alert says "
        "which feature made the hour anomalous and by how much."
    ),
    runbook=(
        "Run `roletrail chain <event id>` on one of the hour's events to see who made the calls.",
        "Compare the hour with the role's baseline in the alert (details.baseline) and the "
        "deployment calendar: a big release or a new batch job explains a one-off.",
        "If unexplained, look for credential misuse: which callers and IPs are new in that hour "
        "(`roletrail sql` over cross_account_assume_roles).",
    ),
    false_positives=(
        "Large deployments, backfills and incident response.",
        "A new workload adopting the role.",
    ),
    params=(
        Param("min_assumes", 10, "the floor: fewer calls in an hour are never a spike", low=1, high=100_000),
        Param("z_threshold", 6.0, "robust z above which a feature is anomalous", low=1.0, high=100.0),
        Param(
            "over_max_ratio",
            1.5,
            "the count must also exceed this times the baseline's busiest hour",
            low=1.0,
            high=100.0,
        ),
        Param(
            "min_baseline_hours",
            12,
            "active hours a role needs in its baseline to be judged",
            low=1,
            high=10_000,
        ),
        Param(
            "new_role_min_assumes",
            200,
            "calls in one hour that flag a role with no baseline",
            low=1,
            high=1_000_000,
        ),
        Param("min_assumes_model", 5, "the model's floor on calls in the hour", low=1, high=100_000),
        Param(
            "min_model_baseline_hours",
            48,
            "active hours a role needs before the model judges it",
            low=1,
            high=10_000,
        ),
        Param("model_contamination", 0.01, "IsolationForest contamination", low=0.001, high=0.2),
    ),
    lookback=dt.timedelta(days=14),
    baseline="the role's active hours in the trailing 14 days, keyed on the role ARN",
    postprocess=postprocess,
)
