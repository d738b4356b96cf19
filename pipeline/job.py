"""`roletrail run`: ingest (source from config), detect, notify — the job cron calls.

Each stage reads what the one before wrote to the database, so a failed stage does not stop
the later ones from doing what they can (a failed ingest still lets pending alerts go out);
the exit status says a stage failed. One line per stage goes to stderr: words on a terminal,
one JSON object per line otherwise (cron, systemd journal).

A stage's status is `ok`, `skipped`, `failed`, or for notify `retrying` (a delivery failed and
will be retried: not a failed job) or `undelivered` (a destination is misconfigured or alerts
were given up on in this run: the job exits with its own status, see pipeline/cli/delivery.py).
"""

from __future__ import annotations

import datetime as dt
import json
import sys
import time
from dataclasses import dataclass, field

from pipeline import config as config_mod
from pipeline import store
from pipeline.store import RoletrailError


@dataclass
class JobResult:
    stages: list[dict] = field(default_factory=list)
    new_alerts: list[dict] = field(default_factory=list)
    undelivered: list[str] = field(default_factory=list)  # why alerts are not being delivered

    @property
    def ok(self) -> bool:
        return all(s["status"] != "failed" for s in self.stages)


class StageLog:
    def __init__(self, stream=None, machine: bool | None = None):
        self.stream = stream or sys.stderr
        self.machine = (not self.stream.isatty()) if machine is None else machine

    def emit(self, record: dict) -> None:
        if self.machine:
            self.stream.write(json.dumps(record, default=str, ensure_ascii=False) + "\n")
        else:
            # a person reads this: the stage's own sentence, not its machine fields
            message = record.get("message") or ""
            took = f" ({record['seconds']:.1f} s)" if "seconds" in record else ""
            self.stream.write(
                f"run: {record['stage']}: {record['status']}{': ' if message else ''}{message}{took}\n"
            )
        self.stream.flush()


def run_job(cfg, db: str, log: StageLog, today: dt.date | None = None) -> JobResult:
    """The scheduled job. The caller holds the database lock."""
    from pipeline.detect import detect
    from pipeline.ingest import Progress, ingest
    from pipeline.notify import notify

    result = JobResult()
    con = store.connect(db)
    try:
        store.init_db(con)

        def stage(name, fn):
            started = time.monotonic()
            try:
                record = {"stage": name, "status": "ok", **fn()}
            except RoletrailError as e:
                record = {"stage": name, "status": "failed", "message": str(e)}
            except Exception as e:  # a stage's crash is reported; the next stages still run
                record = {"stage": name, "status": "failed", "message": f"{type(e).__name__}: {e}"}
            record["seconds"] = round(time.monotonic() - started, 3)
            result.stages.append(record)
            log.emit(record)

        def do_ingest():
            if not cfg.source.uri:
                return {"status": "skipped", "message": "no [source] uri in the config"}
            since = None
            if cfg.source.lookback_days:
                since = (today or dt.datetime.now(dt.UTC).date()) - dt.timedelta(
                    days=cfg.source.lookback_days
                )
            s = ingest(con, cfg.source.uri, since=since, quarantine_dir=config_mod.quarantine_dir(cfg, db),
                       progress=Progress(enabled=False), options=cfg.ingest,
                       source_options=cfg.source)  # fmt: skip
            return {
                "message": s.lines()[0],
                "objects_new": s.objects_new,
                "objects_quarantined": s.objects_quarantined,
                "records_loaded": s.records_loaded,
                "duplicates_dropped": s.duplicates_dropped,
                "fetch_failures": s.objects_failed,
            }

        def do_detect():
            s = detect(con, cfg)
            result.new_alerts = [a for a in s.new_alerts if a["status"] == "open"]
            return {"message": s.lines()[0], "events_new": s.events_new, "alerts_new": len(result.new_alerts),
                    "alerts_updated": s.updated, "alerts_suppressed": s.suppressed}  # fmt: skip

        def do_notify():
            s = notify(con, cfg)
            result.undelivered = s.undelivered
            out = {"message": "; ".join(s.lines()), "alerts_sent": s.alerts_sent, "destinations": s.as_dict()}
            if s.undelivered:
                out["status"] = "undelivered"
            elif any(d.failures for d in s.destinations):
                # delivery failures are retried next run: reported, not a failed job
                out["status"] = "retrying"
            return out

        stage("ingest", do_ingest)
        stage("detect", do_detect)
        stage("notify", do_notify)
    finally:
        con.close()
    by_stage = {st["stage"]: st for st in result.stages}
    failed = [st["stage"] for st in result.stages if st["status"] == "failed"]
    records = by_stage.get("ingest", {}).get("records_loaded", 0)
    sent = by_stage.get("notify", {}).get("alerts_sent", 0)
    new = len(result.new_alerts)
    message = (
        f"{records} records loaded, {new} new alert{'' if new == 1 else 's'}, "
        f"{sent} {'delivery' if sent == 1 else 'deliveries'}"
    )
    if failed:
        message += f"; failed: {', '.join(failed)}"
    if result.undelivered:
        message += f"; alerts not delivered: {'; '.join(result.undelivered)}"
    log.emit(
        {
            "stage": "summary",
            "status": "failed" if failed else "undelivered" if result.undelivered else "ok",
            "message": message,
            "seconds": round(sum(st["seconds"] for st in result.stages), 3),
        }
    )
    return result
