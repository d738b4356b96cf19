"""S3 event notifications over SQS: `sqs://QUEUE` (a queue name) or `sqs://https://sqs.REGION.amazonaws.com/ACCOUNT/QUEUE`.

The queue names the objects to load (pipeline.sources.notifications reads the four message
kinds); they go through ingest's manifest like a listed bucket's, so a duplicate notification
loads nothing twice. A message is deleted only once every object it names is durably recorded
(`committed`); until then a heartbeat keeps it invisible, and a run killed at any moment leaves
it in the queue, to come back after the visibility timeout. A message that names no object is
written to `quarantined_messages` first, then deleted: it never loops.
"""

from __future__ import annotations

import datetime as dt
import fnmatch
import os
import re
import threading
import time
from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

from pydantic import Field

from pipeline.errors import RoletrailError
from pipeline.sources.base import BaseSource, ObjectRef, Options, skip_reason
from pipeline.sources.notifications import Named, NotANotification, parse
from pipeline.sources.s3 import one_line, s3_client

QUEUE_NAME = re.compile(r"^[A-Za-z0-9_-]{1,80}(\.fifo)?$")
# the regional endpoints' host names, to sign for the queue's own region
QUEUE_HOST = re.compile(r"^(?:sqs\.([a-z0-9-]+)\.amazonaws\.com|([a-z0-9-]+)\.queue\.amazonaws\.com)$")
BATCH = 10  # SQS's most messages per receive, delete or visibility change


class SqsOptions(Options):
    workers: int = Field(default=16, ge=1, le=64)  # concurrent GETs (and HeadObjects)
    task_objects: int = Field(default=4, ge=1, le=1000)
    # a run ends at whichever comes first: so many messages, so many seconds of receiving
    # (the objects received are then loaded), or one long poll that finds the queue empty
    max_messages: int = Field(default=10_000, ge=1, le=1_000_000)
    max_seconds: int = Field(default=600, ge=1, le=43_200)
    wait_time_seconds: int = Field(default=20, ge=0, le=20)  # long polling (SQS's maximum is 20)
    # how long a received message stays invisible; a heartbeat renews it while its batch loads
    visibility_timeout: int = Field(default=300, ge=2, le=43_200)
    # bucket names (globs) a notification may name; empty: any. Anyone who can send to the queue
    # can name a bucket, so naming yours keeps others' objects out of the database.
    buckets: list[str] = []


@dataclass
class Message:
    id: str
    handle: str
    body: str
    sent: dt.datetime | None
    receives: int | None
    waiting: set[str] = field(default_factory=set)  # uris not yet recorded
    problems: list[str] = field(default_factory=list)  # why it is kept in quarantined_messages


def queue_url(client, uri: str) -> str:
    """The queue's URL: the URI's own (sqs://https://...) or GetQueueUrl of its name."""
    from botocore.exceptions import BotoCoreError, ClientError

    rest = uri[len("sqs://") :]
    if rest.startswith(("https://", "http://")):
        return rest
    if not QUEUE_NAME.match(rest):
        raise RoletrailError(
            f"bad SQS URI {uri!r}: expected sqs://QUEUE-NAME or sqs://https://sqs.REGION.amazonaws.com/ACCOUNT/QUEUE"
        )
    try:
        return client.get_queue_url(QueueName=rest)["QueueUrl"]
    except ClientError as e:
        code = e.response.get("Error", {}).get("Code", "")
        raise RoletrailError(f"cannot open queue {rest}: {code or one_line(e)}") from None
    except BotoCoreError as e:
        raise RoletrailError(f"cannot open queue {rest}: {one_line(e)}") from None


def sqs_client(url: str | None):
    import boto3
    from botocore.config import Config

    m = QUEUE_HOST.match(url.split("/")[2]) if url and url.count("/") >= 3 else None
    session = boto3.session.Session()
    # botocore reads AWS_DEFAULT_REGION and the profile's region, not AWS_REGION
    region = (m[1] or m[2]) if m else session.region_name or os.environ.get("AWS_REGION")
    if not region:
        raise RoletrailError(
            "no AWS region for the queue: set AWS_REGION (or AWS_DEFAULT_REGION), or give its URL"
        )
    # read_timeout above the longest long poll (20 s)
    cfg = Config(retries={"max_attempts": 5, "mode": "standard"}, connect_timeout=10, read_timeout=60)
    return session.client("sqs", region_name=region, config=cfg)


class SqsSource(BaseSource):
    Options = SqsOptions

    def __init__(self, uri: str, options: SqsOptions | None = None):
        o = options or SqsOptions()
        self.options = o
        self.uri = uri
        self.workers, self.task_objects = o.workers, o.task_objects
        rest = uri[len("sqs://") :]
        self.sqs = sqs_client(rest if rest.startswith(("https://", "http://")) else None)
        self.url = queue_url(self.sqs, uri)
        self.s3 = s3_client(max(32, self.workers * 2))
        self.lock = threading.Lock()
        self.db_lock = threading.Lock()
        self.db = None  # a cursor of the run's database (begin)
        self.run_id = None
        self.messages: dict[str, Message] = {}  # received, not deleted
        self.waiting: dict[str, set[str]] = {}  # uri -> ids of the messages that wait for it
        self.done: set[str] = set()  # uris recorded in this run
        self.counts = dict.fromkeys(("received", "deleted", "test", "ignored", "quarantined", "released",
                                     "redelivered", "head_failed", "ack_failed"), 0)  # fmt: skip
        self.kept: list[tuple[str, str]] = []  # (message id, reason) quarantined in this run
        self.ranged = False
        self.stop = threading.Event()
        self.heartbeat: threading.Thread | None = None
        self.pool: ThreadPoolExecutor | None = None

    def begin(self, con, run_id: str) -> None:
        self.db, self.run_id = con, run_id

    # --- receiving ---------------------------------------------------------------------------

    def list(self, since=None, until=None) -> Iterator[ObjectRef]:
        # the queue says which objects are new: a date range (or `run`'s lookback_days) is for listing
        self.ranged = since is not None or until is not None
        o = self.options
        deadline = time.monotonic() + o.max_seconds
        received = 0
        self._start_heartbeat()
        while received < o.max_messages:
            left = deadline - time.monotonic()
            if left <= 0:
                break
            msgs = self._receive(min(BATCH, o.max_messages - received), min(o.wait_time_seconds, int(left)))
            if not msgs:
                break  # one long poll found nothing: the queue is drained, the run ends
            received += len(msgs)
            yield from self._take(msgs)

    def _receive(self, n: int, wait: int) -> list[dict]:
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            return self.sqs.receive_message(
                QueueUrl=self.url, MaxNumberOfMessages=n, WaitTimeSeconds=wait,
                VisibilityTimeout=self.options.visibility_timeout,
                MessageSystemAttributeNames=["SentTimestamp", "ApproximateReceiveCount"],
            ).get("Messages", [])  # fmt: skip
        except (ClientError, BotoCoreError) as e:
            raise RoletrailError(f"cannot receive from {self.uri}: {one_line(e)}") from None

    def _take(self, raw: list[dict]) -> list[ObjectRef]:
        """The new objects these messages name; messages that name nothing new finish now."""
        new: dict[str, Named] = {}
        finished = []
        with self.lock:
            for m in raw:
                msg = self._message(m)
                if msg is None:
                    continue
                for n in self._objects(msg):
                    uri = f"s3://{n.bucket}/{n.key}"
                    if uri in self.done:
                        continue  # a duplicate of an object recorded in this run
                    msg.waiting.add(uri)
                    if uri not in self.waiting:
                        new[uri] = n
                    self.waiting.setdefault(uri, set()).add(msg.id)
                if not msg.waiting:
                    finished.append(self.messages.pop(msg.id))
        self._finish(finished)
        return self._refs(new)

    def _message(self, m: dict) -> Message | None:
        mid = m.get("MessageId", "")
        if mid in self.messages:  # the same message again (SQS delivers at least once)
            self.messages[mid].handle = m["ReceiptHandle"]
            self.counts["redelivered"] += 1
            return None
        attrs = m.get("Attributes", {})
        sent = attrs.get("SentTimestamp")
        msg = Message(
            mid, m["ReceiptHandle"], m.get("Body", ""),
            dt.datetime.fromtimestamp(int(sent) / 1000, dt.UTC).replace(tzinfo=None) if sent else None,
            int(attrs["ApproximateReceiveCount"]) if "ApproximateReceiveCount" in attrs else None,
        )  # fmt: skip
        self.messages[mid] = msg
        self.counts["received"] += 1
        return msg

    def _objects(self, msg: Message) -> list[Named]:
        try:
            notice = parse(msg.body)
        except NotANotification as e:
            msg.problems.append(str(e))
            return []
        self.counts["test"] += notice.test
        self.counts["ignored"] += notice.ignored
        msg.problems += notice.problems
        allowed = []
        for n in notice.objects:
            if self.options.buckets and not any(
                fnmatch.fnmatchcase(n.bucket, b) for b in self.options.buckets
            ):
                msg.problems.append(f"bucket {n.bucket!r} is not in [source.sqs] buckets")
            else:
                allowed.append(n)
        return allowed

    def _refs(self, new: dict[str, Named]) -> list[ObjectRef]:
        """ObjectRefs for `new`; HeadObject for the ones whose notification has no etag or size."""
        refs, heads = [], []
        for uri, n in new.items():
            if n.etag is not None and n.size is not None or skip_reason(n.key):
                refs.append(ObjectRef(uri, n.key, n.etag or "", n.size or 0, n.time))
            else:
                heads.append((uri, n))
        if heads:
            if self.pool is None:
                self.pool = ThreadPoolExecutor(self.workers, thread_name_prefix="roletrail-head")
            for ref in self.pool.map(lambda h: self._head(*h), heads):
                if ref is not None:
                    refs.append(ref)
        return refs

    def _head(self, uri: str, n: Named) -> ObjectRef | None:
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            head = self.s3.head_object(Bucket=n.bucket, Key=n.key)
        except ClientError as e:
            code = e.response.get("Error", {}).get("Code", "")
            if code in ("404", "NoSuchKey", "NotFound"):
                self._gone(uri, "NoSuchKey")
            else:  # permissions, throttling: the message stays and comes back
                with self.lock:
                    self.counts["head_failed"] += 1
            return None
        except BotoCoreError:
            with self.lock:
                self.counts["head_failed"] += 1
            return None
        modified = head.get("LastModified")
        return ObjectRef(uri, n.key, head.get("ETag", "").strip('"'), head.get("ContentLength", 0),
                         modified.astimezone(dt.UTC).replace(tzinfo=None) if modified else n.time)  # fmt: skip

    def fetch(self, ref: ObjectRef) -> bytes:
        from botocore.exceptions import ClientError

        bucket, _, key = ref.uri[len("s3://") :].partition("/")
        try:
            return self.s3.get_object(Bucket=bucket, Key=key)["Body"].read()
        except ClientError as e:
            if e.response.get("Error", {}).get("Code", "") in ("NoSuchKey", "404"):
                # deleted before it was read: it will never load, so its message must not come back
                self._gone(ref.uri, "NoSuchKey")
            raise

    # --- acknowledging -----------------------------------------------------------------------

    def committed(self, refs: Sequence[ObjectRef]) -> None:
        finished = []
        with self.lock:
            for r in refs:
                self.done.add(r.uri)
                for mid in self.waiting.pop(r.uri, ()):
                    msg = self.messages.get(mid)
                    if msg is not None:
                        msg.waiting.discard(r.uri)
                        if not msg.waiting:
                            finished.append(self.messages.pop(mid))
        self._finish(finished)

    def _gone(self, uri: str, why: str) -> None:
        """An object that no longer exists: its messages are kept with the reason and finish."""
        finished = []
        with self.lock:
            for mid in self.waiting.pop(uri, ()):
                msg = self.messages.get(mid)
                if msg is not None:
                    msg.waiting.discard(uri)
                    msg.problems.append(f"{uri}: {why} (deleted before it was read)")
                    if not msg.waiting:
                        finished.append(self.messages.pop(mid))
        self._finish(finished)

    def _finish(self, msgs: list[Message]) -> None:
        """Delete messages whose objects are all recorded; one that names something it should not
        is written to quarantined_messages first (committed before the delete is sent)."""
        if not msgs:
            return
        keep = [m for m in msgs if m.problems]
        if keep and not self._quarantine(keep):
            msgs = [m for m in msgs if not m.problems]  # nowhere to keep them: they stay in the queue
        for i in range(0, len(msgs), BATCH):
            part = msgs[i : i + BATCH]
            failed = self._batch("delete_message_batch", [{"Id": str(n), "ReceiptHandle": m.handle}
                                                          for n, m in enumerate(part)])  # fmt: skip
            with self.lock:
                self.counts["deleted"] += len(part) - failed
                self.counts["ack_failed"] += failed

    def _quarantine(self, msgs: list[Message]) -> bool:
        if self.db is None:
            return False
        from pipeline.ingest.manifest import utcnow

        with self.db_lock:
            # a message kept before and redelivered (the run was killed before its delete): one row
            self.db.execute(
                """insert or ignore into quarantined_messages
                select unnest($ids), $queue, unnest($bodies), unnest($reasons), unnest($sent),
                       unnest($receives), $run, $now""",
                {"ids": [m.id for m in msgs], "queue": self.uri, "bodies": [m.body for m in msgs],
                 "reasons": ["; ".join(m.problems)[:2000] for m in msgs], "sent": [m.sent for m in msgs],
                 "receives": [m.receives for m in msgs], "run": self.run_id, "now": utcnow()},
            )  # fmt: skip
        with self.lock:
            self.counts["quarantined"] += len(msgs)
            self.kept += [(m.id, "; ".join(m.problems)) for m in msgs]
        return True

    def _batch(self, op: str, entries: list[dict]) -> int:
        """One SQS batch call; the number of entries it did not apply."""
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            return len(getattr(self.sqs, op)(QueueUrl=self.url, Entries=entries).get("Failed", []))
        except (ClientError, BotoCoreError):
            return len(entries)  # the message comes back; the manifest makes it harmless

    # --- the heartbeat -----------------------------------------------------------------------

    def _start_heartbeat(self) -> None:
        if self.heartbeat is None:
            self.heartbeat = threading.Thread(target=self._beat, name="roletrail-sqs-heartbeat", daemon=True)
            self.heartbeat.start()

    def _beat(self) -> None:
        # renewed at a third of the timeout: two renewals may fail before a message reappears
        period = max(0.5, self.options.visibility_timeout / 3)
        while not self.stop.wait(period):
            self._visibility(self.options.visibility_timeout)

    def _visibility(self, seconds: int) -> int:
        with self.lock:
            handles = [m.handle for m in self.messages.values()]
        failed = 0
        for i in range(0, len(handles), BATCH):
            entries = [{"Id": str(n), "ReceiptHandle": h, "VisibilityTimeout": seconds}
                       for n, h in enumerate(handles[i : i + BATCH])]  # fmt: skip
            failed += self._batch("change_message_visibility_batch", entries)
        return len(handles) - failed

    def close(self) -> None:
        self.stop.set()
        if self.heartbeat is not None:
            self.heartbeat.join()
        if self.pool is not None:
            self.pool.shutdown(wait=True)
        # what was not recorded (a failed fetch, an interrupted run) is visible again at once,
        # for the next run, instead of after the visibility timeout
        self.counts["released"] += self._visibility(0)
        if self.db is not None:
            self.db.close()
            self.db = None

    def report(self) -> list[str]:
        from pipeline.text import visible

        c = self.counts
        out = [
            f"messages: {c['received']} received, {c['deleted']} deleted, {c['test']} s3:TestEvent, "
            f"{c['ignored']} other S3 events ignored, {c['quarantined']} quarantined (table quarantined_messages)"
            + (f", {c['released']} returned to the queue" if c["released"] else "")
            + (f", {c['ack_failed']} deletes failed (they come back, nothing loads twice)" if c["ack_failed"] else "")
            + (f", {c['head_failed']} HeadObject calls failed" if c["head_failed"] else "")
        ]  # fmt: skip
        if self.ranged:
            out.append(
                "--since/--until (and [source] lookback_days) do not apply to a queue: it names the objects"
            )
        for mid, reason in self.kept[:5]:
            out.append(f"quarantined message {visible(mid)}: {visible(reason)}")
        return out
