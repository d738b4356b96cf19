"""`roletrail demo`: the whole job on an embedded organization, on 127.0.0.1 only.

A moto S3 server is started in-process, the synthetic organization's logs (three weeks of
normal traffic) are written to a bucket in CloudTrail's organization-trail layout together with
a handful of injected incidents, and the scheduled job runs against it: ingest, detect, and
notify to local capture sinks standing in for Slack and email. Then the alerts, the chain of the
most severe one, an HTML report and three SQL queries to try next. Seeds are fixed, so a second
demo gives the same alerts.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import os
import shlex
import shutil
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

from pipeline import synth
from pipeline.sinks import HttpRecorder, SmtpRecorder, free_port

BUCKET = "roletrail-demo-org-trail"
DAYS = 24  # 2024-03-04 (a Monday) .. 2024-03-27; the incidents happen on the last day
SEED = 42
SCALE = 0.5
ATTACKER_IP = "192.0.2.66"  # TEST-NET-1: documentation space, outside every known range
VENDOR = "777766665555"  # an account outside the organization
SLACK_ENV = "ROLETRAIL_DEMO_SLACK_WEBHOOK"
HOSTILE_SESSION = "<script>alert('probe')</script>"


def spec() -> synth.OrgSpec:
    # one object per account, region and day keeps the moto upload short; the key layout is real
    return synth.OrgSpec(days=DAYS, scale=SCALE, seed=SEED, records_per_file=100_000)


@dataclass
class Incident:
    name: str
    detector: str  # the alert it must raise, and the only one
    story: str
    records: list[dict] = field(default_factory=list)


def incidents(s: synth.OrgSpec) -> list[Incident]:
    """The injected incidents, on the last day of the organization's logs."""
    import random

    rng = random.Random(SEED)
    acc = s.accounts
    day = s.end - dt.timedelta(days=1)

    def at(hour, minute=0, second=0):
        return day + dt.timedelta(hours=hour, minutes=minute, seconds=second)

    out = []

    # a build runner's instance session assumes prod PlatformDeploy directly, without the source
    # identity its trust policy requires (CI normally gets there through GitHubActionsCI)
    runner = synth.assumed_role_identity(acc["shared-services"], "BuildRunnerRole", "i-0b590b621ea1646b6",
                                         "ASIABUILDRUNNERDEMO1", invoked_by=None)  # fmt: skip
    deploy = synth.assume_role(at(13, 3), runner, s.role_arn("prod", "PlatformDeploy"), "deploy-990042",
                               source_ip="203.0.113.140", user_agent=synth.UA_BOTO3, rng=rng)  # fmt: skip
    out.append(Incident("missing-source-identity", "missing_source_identity",
                        "a build runner assumed prod PlatformDeploy without the required source identity",
                        deploy.records))  # fmt: skip

    # carol's sessions, three hops deep, used from an address outside the company
    sso = synth.assume_role_with_saml(
        at(13, 40), s.sso_role_arn("SecurityAudit"), f"arn:aws:iam::{acc['security']}:saml-provider/AWSSSO",
        "carol@example.com", source_identity="carol@example.com", source_ip="198.51.100.12", rng=rng,
    )  # fmt: skip
    auditor = synth.assume_role(at(13, 41), sso.session, s.role_arn("security", "SecurityAuditor"),
                                "carol@example.com", source_ip="198.51.100.12", user_agent=synth.UA_CLI_MAC,
                                rng=rng)  # fmt: skip
    stolen = synth.assume_role(at(14, 25), auditor.session, s.role_arn("prod", "ReadOnlyAudit"),
                               "carol@example.com", source_ip=ATTACKER_IP,
                               user_agent="python-requests/2.31.0 <script>alert(1)</script>", rng=rng)  # fmt: skip
    calls = [
        synth.api_call(
            at(14, 26 + i),
            stolen.session,
            src,
            name,
            acc["prod"],
            "us-east-1",
            ATTACKER_IP,
            "python-requests/2.31.0",
            rng=rng,
        )  # fmt: skip
        for i, (src, name) in enumerate(
            [
                ("secretsmanager.amazonaws.com", "ListSecrets"),
                ("s3.amazonaws.com", "ListBuckets"),
                ("iam.amazonaws.com", "ListRoles"),
                ("ec2.amazonaws.com", "DescribeInstances"),
            ]
        )  # fmt: skip
    ]
    out.append(Incident("chain-to-unknown-network", "unknown_source_ip",
                        "carol's three-hop session chain reached prod from 192.0.2.66, outside the known networks",
                        sso.records + auditor.records + stolen.records + calls))  # fmt: skip

    # the exporter, three hundred times in one hour instead of once
    exporter = synth.assumed_role_identity(acc["shared-services"], "exporter", "i-08d89ddbad7b8f6ec",
                                           "ASIAEXPORTERDEMO0001")  # fmt: skip
    burst = []
    for i in range(300):
        burst += synth.assume_role(at(15, i // 6, (i * 10) % 60), exporter, s.role_arn("data", "ExportRole"),
                                   f"export-{uuid.UUID(int=rng.getrandbits(128), version=4)}", source_identity="exporter-svc",
                                   source_ip="203.0.113.144", user_agent=synth.UA_BOTO3, rng=rng).records  # fmt: skip
    out.append(
        Incident(
            "volume-spike",
            "assume_role_volume_spike",
            "ExportRole was assumed 300 times in one hour; it is assumed about once an hour",
            burst,
        )
    )

    # a hand-typed session name on the CI deploy role
    ci = synth.assume_role_with_web_identity(
        at(16, 4), s.role_arn("shared-services", "GitHubActionsCI"),
        f"arn:aws:iam::{acc['shared-services']}:oidc-provider/token.actions.githubusercontent.com",
        "repo:example-org/platform:ref:refs/heads/main", source_identity="ci@example.com",
        source_ip="203.0.113.21", rng=rng,
    )  # fmt: skip
    manual = synth.assume_role(at(16, 5), ci.session, s.role_arn("prod", "PlatformDeploy"), "manual-debug-session",
                               source_identity="ci@example.com", source_ip="203.0.113.21",
                               user_agent=synth.UA_CLI_LINUX, rng=rng)  # fmt: skip
    out.append(Incident("never-seen-session-name", "novel_session_name",
                        "prod PlatformDeploy, always deploy-<n>, was assumed as 'manual-debug-session'",
                        ci.records + manual.records))  # fmt: skip

    # someone in the data account probing the prod organization role's trust policy
    bot = synth.iam_user(acc["data"], "backup-bot", "AKIABACKUPBOTDEMO001")
    probes = []
    for i in range(8):
        target = s.role_arn("prod", "OrganizationAccountAccessRole")
        probes += synth.assume_role(
            # the caller picks the session name: the first tries to be HTML (it becomes the alert's)
            at(17, 0, i * 40), bot, target, HOSTILE_SESSION if i == 0 else f"probe-{i}", source_ip="198.51.100.77",
            user_agent="aws-cli/2.15.30",
            error_code="AccessDenied",
            error_message=f"User: {bot['arn']} is not authorized to perform: sts:AssumeRole on resource: {target}",
            rng=rng,
        ).records  # fmt: skip
    out.append(
        Incident(
            "access-denied-probing",
            "access_denied_cluster",
            "eight denied assumes of OrganizationAccountAccessRole within six minutes",
            probes,
        )
    )

    # a vendor account, never seen before, assumes the data account's audit role
    vendor = synth.iam_user(VENDOR, "auditor", "AKIAVENDORAUDITDEMO1")
    first = synth.assume_role(at(18, 15), vendor, s.role_arn("data", "ReadOnlyAudit"), "auditor@vendor.example",
                              source_identity="auditor@vendor.example", source_ip="2001:db8:1234:ff::20",
                              user_agent="aws-cli/2.15.30", rng=rng)  # fmt: skip
    out.append(Incident("new-caller-account", "new_caller_account",
                        f"account {VENDOR}, outside the organization, assumed data ReadOnlyAudit for the first time",
                        first.records))  # fmt: skip
    return out


def incident_objects(s: synth.OrgSpec, found: list[Incident]) -> list[tuple[str, bytes]]:
    """The incidents' records as CloudTrail objects: one per account, region and 5 minutes."""
    groups: dict[tuple, list[dict]] = {}
    for inc in found:
        for r in inc.records:
            t = dt.datetime.strptime(r["eventTime"], "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=dt.UTC)
            window = t.replace(minute=t.minute - t.minute % 5, second=0)
            groups.setdefault((r["recipientAccountId"], r["awsRegion"], window), []).append(r)
    objects = []
    for n, ((account, region, window), recs) in enumerate(sorted(groups.items())):
        key = synth.log_key(s, account, region, window, f"INCIDENT{n:08d}")
        objects.append((key, synth.encode(sorted(recs, key=lambda r: r["eventTime"]))))
    return objects


class Sinks:
    """Local stand-ins for the Slack webhook and an SMTP server (pipeline.sinks), saved to a folder."""

    def __init__(self, out: Path):
        self.out = out
        self.http = HttpRecorder().start()
        self.webhook = self.http.url("/services/DEMO/DEMO/demo-token")
        self.smtp = SmtpRecorder().start()
        self.smtp_port = self.smtp.port

    @property
    def slack(self) -> list[bytes]:
        return self.http.bodies

    @property
    def mail(self) -> list[bytes]:
        return [m.data for m in self.smtp.messages]

    def save(self) -> list[Path]:
        self.out.mkdir(parents=True, exist_ok=True)
        paths = []
        for i, body in enumerate(self.slack, 1):
            p = self.out / f"slack-{i}.json"
            p.write_text(json.dumps(json.loads(body), indent=2))
            paths.append(p)
        for i, data in enumerate(self.mail, 1):
            p = self.out / f"email-{i}.eml"
            p.write_bytes(data)
            paths.append(p)
        return paths

    def stop(self):
        self.http.stop()
        self.smtp.stop()


CONFIG = """# written by `roletrail demo`
[database]
path = "{db}"

[source]
uri = "s3://{bucket}/AWSLogs/"
lookback_days = 0

[network]
known_cidrs = {cidrs}

[source_identity]
required = {{ "arn:aws:iam::*:role/PlatformDeploy" = "*@example.com", "arn:aws:iam::*:role/ExportRole" = "exporter-svc" }}

[notify.slack]
webhook_url_env = "{slack_env}"

[notify.email]
smtp_host = "127.0.0.1"
smtp_port = {smtp_port}
starttls = false
from = "roletrail-demo@example.com"
to = ["secops@example.com"]
"""

# (what it shows, the query, its `-p NAME VALUE` parameters): values are bound, never part of the text
QUERIES = [
    ("who assumed what across accounts, most recent first",
     "select eventtime, caller_account, role_arn, role_session_name, source_identity, source_ip "
     "from assume_role_pairs order by eventtime desc limit 10", {}),
    ("the longest role chains and where they started",
     "select depth, origin_identity, role_arn, role_session_name, source_identity "
     "from role_session_lineage order by depth desc, issued_at desc limit 10", {}),
    ("what the session from the unknown network did",
     "select s.eventsource, s.eventname, s.calls from session_actions s join role_sessions r "
     "on s.access_key_id = r.access_key_id where r.source_ip = $ip", {"ip": ATTACKER_IP}),
]  # fmt: skip


def sql_command(db: Path, query: str, params: dict[str, str]) -> str:
    """The `roletrail sql` command line for a query, every word shell-quoted."""
    words = ["roletrail", "sql", "--db", _rel(db)]
    for name, value in params.items():
        words += ["-p", name, value]
    return shlex.join([*words, query])


@dataclass
class DemoResult:
    db: Path
    report: Path
    alerts: list[dict]
    incidents: list[Incident]
    slack_messages: int
    emails: int
    seconds: float


def run(out_dir: Path, echo=print) -> DemoResult:
    from moto.server import ThreadedMotoServer

    from pipeline import chain as chain_mod
    from pipeline import config as config_mod
    from pipeline import detect as detect_mod
    from pipeline import output, report, store
    from pipeline.job import StageLog, run_job
    from pipeline.sources import s3_client

    started = time.monotonic()
    logging.getLogger("werkzeug").setLevel(logging.ERROR)  # the embedded S3 server's access log
    out_dir = Path(out_dir).resolve()
    out_dir.mkdir(parents=True, exist_ok=True)
    for old in ("roletrail.duckdb", "roletrail.duckdb.wal", "report.html", "roletrail.toml", "captured",
                "roletrail.duckdb.quarantine"):  # fmt: skip
        p = out_dir / old
        shutil.rmtree(p) if p.is_dir() else p.unlink(missing_ok=True)
    db = out_dir / "roletrail.duckdb"

    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    sinks = Sinks(out_dir / "captured")
    saved_env = {k: os.environ.get(k) for k in ("AWS_ENDPOINT_URL", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY",
                                                 "AWS_SESSION_TOKEN", "AWS_PROFILE", "AWS_REGION", SLACK_ENV)}  # fmt: skip
    try:
        # everything below talks to 127.0.0.1 only: the embedded S3 endpoint and the sinks
        os.environ.update(
            {
                "AWS_ENDPOINT_URL": f"http://127.0.0.1:{port}",
                "AWS_ACCESS_KEY_ID": "demo",
                "AWS_SECRET_ACCESS_KEY": "demo",
                "AWS_REGION": "us-east-1",
                SLACK_ENV: sinks.webhook,
            }
        )
        for k in ("AWS_SESSION_TOKEN", "AWS_PROFILE"):
            os.environ.pop(k, None)
        s = spec()
        client = s3_client()
        client.create_bucket(Bucket=BUCKET)
        echo(f"demo: S3 endpoint on 127.0.0.1:{port}; writing {DAYS} days of the synthetic organization "
             f"({len(s.accounts)} accounts, {len(s.regions)} regions) to s3://{BUCKET}/")  # fmt: skip
        stats = synth.write_s3(client, BUCKET, s)
        found = incidents(s)
        objects = incident_objects(s, found)
        for key, data in objects:
            client.put_object(Bucket=BUCKET, Key=key, Body=data)
        echo(f"demo: {stats.files + len(objects)} objects, {stats.records + sum(len(i.records) for i in found):,} "
             f"records, {len(found)} injected incidents:")  # fmt: skip
        for inc in found:
            echo(f"  - {inc.story}")
        cfg_path = out_dir / "roletrail.toml"
        cfg_path.write_text(CONFIG.format(db=db, bucket=BUCKET, cidrs=json.dumps(list(synth.KNOWN_CIDRS)),
                                          slack_env=SLACK_ENV, smtp_port=sinks.smtp_port))  # fmt: skip
        cfg = config_mod.load(cfg_path)
        echo("demo: running the scheduled job (roletrail run)")
        with store.exclusive(str(db), "demo"):
            result = run_job(cfg, str(db), StageLog(machine=False))
        if not result.ok:
            failed = [
                f"{st['stage']}: {st.get('message')}" for st in result.stages if st["status"] == "failed"
            ]
            raise store.RoletrailError("demo job failed: " + "; ".join(failed))
        deadline = time.monotonic() + 5
        while not sinks.mail and time.monotonic() < deadline:  # the SMTP sink stores asynchronously
            time.sleep(0.05)
        captured = sinks.save()
    finally:
        sinks.stop()
        server.stop()
        for k, v in saved_env.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v

    alerts = result.new_alerts
    echo(f"\ndemo: {len(alerts)} alerts")
    cols, rows = detect_mod.alert_rows(alerts)
    output.write_rows(
        ["severity", "detector", "title"], [(r[2], r[1], r[3]) for r in rows], "table", max_width=100
    )

    con = store.connect(str(db), read_only=True)
    try:
        worst = _most_severe(con, alerts, chain_mod)
        if worst:
            echo(f"\ndemo: roletrail chain {worst[0]['event_ids'][0]}   ({worst[0]['title']})")
            echo(chain_mod.render(worst[1]))
        path = report.write_report(con, out_dir / "report.html", title="roletrail demo report")
    finally:
        con.close()
    echo(f"\ndemo: delivered to the local sinks: {len(sinks.slack)} Slack message(s), {len(sinks.mail)} email(s) "
         f"(saved in {captured[0].parent if captured else out_dir})")  # fmt: skip
    echo(f"demo: report written to {path}")
    echo(f"demo: the database stays at {db}; try:")
    for what, q, params in QUERIES:
        echo(f"  # {what}\n  {sql_command(db, q, params)}")
    seconds = time.monotonic() - started
    echo(f"demo: done in {seconds:.1f} s")
    return DemoResult(db, path, alerts, found, len(sinks.slack), len(sinks.mail), seconds)


def _most_severe(con, alerts, chain_mod):
    """The most severe alert, preferring the one with the longest chain among equals."""
    best = None
    for a in alerts:
        c = chain_mod.find(con, a["event_ids"][0]) if a["event_ids"] else None
        rank = (detect_severity(a["severity"]), -(len(c.hops) if c else 0))
        if c and (best is None or rank < best[0]):
            best = (rank, a, c)
    return (best[1], best[2]) if best else None


def detect_severity(sev: str) -> int:
    from detectors.base import severity_rank

    return severity_rank(sev)


def _rel(p: Path) -> str:
    try:
        return str(p.relative_to(Path.cwd()))
    except ValueError:
        return str(p)
