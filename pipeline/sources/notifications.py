"""What an SQS message body says: the S3 objects it names, or why it names none.

Four producers write to the queues CloudTrail consumers read: S3 event notifications
(`Records[].s3`, keys URL-encoded), the same through SNS (`Type: Notification`, the event as a
JSON string in `Message`), CloudTrail's own SNS notification (`s3Bucket`, `s3ObjectKey[]`) and
EventBridge (`detail-type: Object Created`, keys not encoded). Every value is attacker-controlled
(anyone allowed to send to the queue writes it): nothing here trusts a type or a length.
"""

from __future__ import annotations

import datetime as dt
import json
import re
from dataclasses import dataclass, field
from urllib.parse import unquote_plus

from pipeline.times import parse_utc as _time

# what botocore accepts as a bucket name (as in pipeline.sources.s3)
BUCKET = re.compile(r"^[a-zA-Z0-9.\-_]{1,255}$")
MAX_KEY = 1024  # S3's longest key, in UTF-8 bytes


@dataclass(frozen=True)
class Named:
    """One object a notification names; etag and size are None when it does not say."""

    bucket: str
    key: str
    etag: str | None = None
    size: int | None = None
    time: dt.datetime | None = None


@dataclass
class Notice:
    kind: str  # s3, sns/s3, cloudtrail, sns/cloudtrail, eventbridge, s3-test, ...
    objects: list[Named] = field(default_factory=list)
    ignored: int = 0  # events about objects that are not new (ObjectRemoved, Object Deleted, ...)
    test: bool = False  # s3:TestEvent: S3 checking the queue when notifications are configured
    problems: list[str] = field(default_factory=list)  # parts that name no object: the message is kept


class NotANotification(ValueError):
    pass


def parse(body: str) -> Notice:
    """The objects a message body names; NotANotification when it is none of the four kinds."""
    doc = _json(body, "body")
    prefix = ""
    if isinstance(doc, dict) and doc.get("Type") == "Notification" and "TopicArn" in doc:
        if not isinstance(doc.get("Message"), str):
            raise NotANotification("SNS notification without a Message string")
        doc, prefix = _json(doc["Message"], "SNS Message"), "sns/"
    if not isinstance(doc, dict):
        raise NotANotification(f"not an object notification: a JSON {type(doc).__name__}, not an object")
    for kind, reader in READERS:
        notice = reader(doc)
        if notice is not None:
            notice.kind = prefix + kind
            if not (notice.objects or notice.ignored or notice.test):
                raise NotANotification(
                    "; ".join(notice.problems) or f"{notice.kind} notification names no object"
                )
            return notice
    keys = ", ".join(sorted(str(k)[:40] for k in doc)[:8])
    raise NotANotification(f"not an S3, SNS, CloudTrail or EventBridge notification (keys: {keys})")


def _json(text: str, what: str):
    try:
        return json.loads(text)
    except (ValueError, RecursionError) as e:
        raise NotANotification(f"{what} is not JSON: {' '.join(str(e).split())[:200]}") from None


def _named(bucket, key, etag=None, size=None, time=None) -> Named | str:
    """A Named, or why these values cannot name an S3 object."""
    if not isinstance(bucket, str) or not BUCKET.match(bucket):
        return f"bad bucket name {str(bucket)[:80]!r}"
    if not isinstance(key, str) or not key or len(key.encode("utf-8", "replace")) > MAX_KEY:
        return f"bad object key {str(key)[:80]!r}"
    etag = etag.strip('"') if isinstance(etag, str) and etag else None
    size = size if isinstance(size, int) and not isinstance(size, bool) and size >= 0 else None
    return Named(bucket, key, etag, size, _time(time))


def _add(notice: Notice, where: str, named: Named | str) -> None:
    if isinstance(named, Named):
        notice.objects.append(named)
    else:
        notice.problems.append(f"{where}: {named}")


def _dict(value) -> dict:
    return value if isinstance(value, dict) else {}


def s3_event(doc: dict) -> Notice | None:
    if doc.get("Event") == "s3:TestEvent" or (doc.get("Service") == "Amazon S3" and "Event" in doc):
        return Notice("s3-test", test=True)
    records = doc.get("Records")
    if not isinstance(records, list):
        return None
    notice = Notice("s3")
    for i, r in enumerate(records):
        r = _dict(r)
        name = r.get("eventName")
        if r.get("eventSource") != "aws:s3" or not isinstance(name, str):
            notice.problems.append(f"Records[{i}] is not an S3 event (no eventSource aws:s3 and eventName)")
            continue
        if not name.startswith("ObjectCreated:"):
            notice.ignored += 1  # a delete, restore or lifecycle event: nothing new to load
            continue
        s3, obj = _dict(r.get("s3")), _dict(_dict(r.get("s3")).get("object"))
        key = obj.get("key")
        # S3 URL-encodes keys in event notifications (a space is "+")
        key = unquote_plus(key) if isinstance(key, str) else key
        _add(notice, f"Records[{i}]", _named(_dict(s3.get("bucket")).get("name"), key, obj.get("eTag"),
                                              obj.get("size"), r.get("eventTime")))  # fmt: skip
    return notice


def cloudtrail_sns(doc: dict) -> Notice | None:
    if "s3Bucket" not in doc or "s3ObjectKey" not in doc:
        return None
    notice = Notice("cloudtrail")
    keys = doc["s3ObjectKey"]
    if not isinstance(keys, list):
        notice.problems.append("s3ObjectKey is not a list")
        return notice
    for i, key in enumerate(keys):
        _add(notice, f"s3ObjectKey[{i}]", _named(doc["s3Bucket"], key))  # etag and size: HeadObject
    return notice


def eventbridge(doc: dict) -> Notice | None:
    if doc.get("source") != "aws.s3" or "detail-type" not in doc:
        return None
    notice = Notice("eventbridge")
    if doc["detail-type"] != "Object Created":
        notice.ignored += 1  # Object Deleted, Object Restore Completed, ...
        return notice
    detail = _dict(doc.get("detail"))
    obj = _dict(detail.get("object"))
    # AWS writes "etag"; some emulators "eTag". EventBridge keys are not URL-encoded.
    etag = obj.get("etag", obj.get("eTag"))
    _add(notice, "detail", _named(_dict(detail.get("bucket")).get("name"), obj.get("key"), etag, obj.get("size"),
                                  doc.get("time")))  # fmt: skip
    return notice


READERS = (("s3", s3_event), ("cloudtrail", cloudtrail_sns), ("eventbridge", eventbridge))
