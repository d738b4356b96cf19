"""The input shapes a log file may have, recognised from its content (never its name).

Every shape becomes one `{"Records": [...]}` document for the loader. CloudTrail's own files
are passed through untouched; the other shapes are exports, parsed and rewritten here:

- `records`: CloudTrail's log file, `{"Records": [...]}` (or several, one per line)
- `ndjson`: one record per line (CloudTrail Lake and Athena exports, SIEM exports)
- `eventbridge`: EventBridge envelopes (`"detail-type": "AWS API Call via CloudTrail"`, the
  record in `detail`), one document or one per line
- `lookup-events`: `aws cloudtrail lookup-events` output, `Events[].CloudTrailEvent` JSON strings
- `array`: a JSON array of records or envelopes

A record that cannot be loaded (a line that is not JSON, a string with a lone surrogate escape,
which DuckDB's reader refuses for the whole document) becomes `null` in the document and a
reject: (position, reason, text), quarantined on its own while the rest of the file loads. A
CloudTrail file DuckDB refused is shaped again `thorough`ly and loaded once more (the loader).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field

RECORDS_START = re.compile(rb'\s*\{\s*"Records"\s*:\s*\[')
# one JSON value ending and another starting on the next line: never inside one valid document
# (array elements are separated by commas, and strings hold no raw newline)
NEXT_VALUE = re.compile(rb"\}\s*\n\s*\{")
RECORDS, NDJSON, EVENTBRIDGE, LOOKUP, ARRAY = "records", "ndjson", "eventbridge", "lookup-events", "array"
SHAPES = (RECORDS, NDJSON, EVENTBRIDGE, LOOKUP, ARRAY)
RECORD_KEYS = ("eventVersion", "eventTime", "eventName", "eventID")


@dataclass
class Shaped:
    shape: str
    doc: bytes
    rejects: list[tuple[int, str, str]] = field(default_factory=list)  # (position, reason, text)


def shape_of(data: bytes, thorough: bool = False) -> Shaped:
    """`data` (UTF-8 JSON text, no BOM) as a Records document. What is none of the shapes is
    returned as it is, for the loader's reader and diagnose() to name its problem.

    A CloudTrail file is passed through unread (scanning every document for surrogate escapes
    would cost more than parsing it); `thorough` parses it in Python, for a document DuckDB's
    reader refused, to find the records that made it refuse (rejects)."""
    newline = data.find(b"\n")  # CloudTrail writes one line, maybe with a newline at the end
    one_document = newline < 0 or data[newline:].isspace() or not NEXT_VALUE.search(data, newline - 1)
    if RECORDS_START.match(data, 0, 256) and one_document and not thorough:
        return Shaped(RECORDS, data)  # CloudTrail's own files: no Python parse
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        return Shaped(RECORDS, data)
    try:
        obj = json.loads(text)
    except RecursionError:
        return Shaped(RECORDS, data)
    except ValueError:
        return _lines(text) or Shaped(RECORDS, data)
    found = _document(obj)
    if found is None:
        return Shaped(RECORDS, data)
    shape, items = found
    return _build(shape, items)


def _envelope(obj) -> bool:
    return isinstance(obj, dict) and str(obj.get("detail-type", "")).endswith("via CloudTrail")


def _record(obj) -> bool:
    return isinstance(obj, dict) and any(k in obj for k in RECORD_KEYS)


def _unwrap(obj):
    """An EventBridge envelope's record, or the value as it is."""
    if _envelope(obj):
        detail = obj.get("detail")
        return (
            detail if isinstance(detail, dict) else _Reject("EventBridge event without a detail object", obj)
        )
    return obj


def _document(obj) -> tuple[str, list] | None:
    if isinstance(obj, dict) and "Records" in obj:
        # the key is not first, or a string holds a surrogate escape: a list keeps its records
        return (RECORDS, obj["Records"]) if isinstance(obj["Records"], list) else None
    if _envelope(obj):
        return EVENTBRIDGE, [_unwrap(obj)]
    if isinstance(obj, dict) and isinstance(obj.get("Events"), list):
        return LOOKUP, [_lookup_event(e) for e in obj["Events"]]
    if isinstance(obj, list) and obj and all(isinstance(o, dict) for o in obj):
        return ARRAY, [_unwrap(o) for o in obj]
    if _record(obj):
        return NDJSON, [obj]  # a one-line export: one record
    return None


def _lookup_event(event) -> object:
    text = event.get("CloudTrailEvent") if isinstance(event, dict) else None
    if not isinstance(text, str):
        return _Reject("lookup-events entry without a CloudTrailEvent string", event)
    try:
        return json.loads(text)
    except (ValueError, RecursionError) as e:
        return _Reject(f"CloudTrailEvent is not valid JSON: {e}", text)


def _lines(text: str) -> Shaped | None:
    """One JSON value per line, when the first line is a JSON object; None otherwise."""
    lines = [line for line in text.splitlines() if line.strip()]
    items, shape = [], NDJSON
    for n, line in enumerate(lines):
        try:
            obj = json.loads(line)
        except (ValueError, RecursionError) as e:
            if n == 0:
                return None  # a document that is not valid JSON, not an export
            items.append(_Reject(f"invalid JSON line: {e}", line))
            continue
        if n == 0:
            if not isinstance(obj, dict):
                return None
            shape = EVENTBRIDGE if _envelope(obj) else RECORDS if "Records" in obj else NDJSON
        if isinstance(obj, dict) and isinstance(obj.get("Records"), list):
            items += obj["Records"]  # CloudTrail files concatenated, one per line
        else:
            items.append(_unwrap(obj))
    return _build(shape, items)


@dataclass
class _Reject:
    reason: str
    value: object


def _build(shape: str, items: list) -> Shaped:
    parts, rejects = [], []
    for n, item in enumerate(items):
        if not isinstance(item, _Reject):
            try:
                parts.append(json.dumps(item, ensure_ascii=False, separators=(",", ":")).encode("utf-8"))
                continue
            except UnicodeEncodeError:
                item = _Reject("lone surrogate escape in a string (not valid Unicode)", item)
        text = item.value if isinstance(item.value, str) else json.dumps(item.value)
        # kept as text: a lone surrogate becomes its escape again
        rejects.append((n, item.reason, text.encode("utf-8", "backslashreplace").decode("utf-8")))
        parts.append(b"null")
    return Shaped(shape, b'{"Records":[' + b",".join(parts) + b"]}", rejects)
