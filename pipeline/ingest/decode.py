"""Bytes of one object -> one line of JSON (a Records document), or the reason it cannot be one."""

from __future__ import annotations

import json
from dataclasses import dataclass, field

from isal import isal_zlib

from pipeline.ingest.shapes import shape_of
from pipeline.sources import ObjectRef

UTF8_BOM = b"\xef\xbb\xbf"
ONE_LINE = bytes.maketrans(b"\n\r", b"  ")
GZIP_MAGIC = b"\x1f\x8b"


@dataclass
class Prepared:
    ref: ObjectRef
    doc: bytes | None = None  # the JSON document on one line
    error: str | None = None  # why the object is quarantined
    original: bytes | None = None  # the bytes as fetched, kept for a quarantined object
    fetch_error: str | None = None  # transient: not recorded, retried next run
    number: int | None = None  # its line in the batch's streams, once written there
    records: int = 0  # about how many records the document holds (for batch sizing only)
    shape: str | None = None  # pipeline.ingest.shapes: which input shape the file was
    rejects: list[tuple[int, str, str]] = field(default_factory=list)  # records quarantined before loading
    size: int = 0  # bytes of the document (it is dropped once written to the batch's streams)
    thorough: bool = False  # shaped by parsing it in Python (after DuckDB's reader refused it)


class TooLarge(Exception):
    pass


def gunzip(data: bytes, limit: int) -> bytes:
    """Every gzip member of `data`, never more than `limit` bytes: a small file that expands
    to gigabytes is refused after `limit`, not after it filled the memory."""
    out: list[bytes] = []
    total = 0
    while data:
        d = isal_zlib.decompressobj(31)
        chunk = d.decompress(data, limit + 1 - total)
        total += len(chunk)
        out.append(chunk)
        if total > limit:
            raise TooLarge(f"more than {limit // (1024 * 1024)} MB of JSON")
        if not d.eof:
            raise EOFError("compressed file ended before the end-of-stream marker was reached")
        data = d.unused_data
        if not data.strip(b"\0"):  # padding after the last member
            break
    return b"".join(out)


def decode(ref: ObjectRef, data: bytes, max_document: int, thorough: bool = False) -> Prepared:
    """Bytes of one object -> a one-line JSON document, or the reason it cannot be one."""
    if not data:
        return Prepared(ref, error="empty file", original=data)
    raw = data
    too_big = f"larger than max_document_mb ({max_document // (1024 * 1024)} MB): not loaded"
    if data[:2] == GZIP_MAGIC:
        try:
            data = gunzip(data, max_document)
        except TooLarge:
            return Prepared(ref, error=f"document {too_big}", original=raw)
        except (OSError, EOFError, isal_zlib.error) as e:
            return Prepared(ref, error=f"corrupt gzip: {e}", original=raw)
    elif len(data) > max_document:
        return Prepared(ref, error=f"document of {len(data) // (1024 * 1024)} MB {too_big}", original=raw)
    if data.startswith(UTF8_BOM):
        data = data[len(UTF8_BOM) :]
    if not data or data.isspace():
        return Prepared(ref, error="empty file (no JSON document)", original=raw)
    shaped = shape_of(data, thorough)
    data = shaped.doc
    # a valid JSON document has no raw newlines inside strings, so replacing them keeps it one
    # line (CloudTrail writes one line already). DuckDB's reader rejects invalid UTF-8 and bad
    # JSON; diagnose() says which, for those files.
    if b"\n" in data or b"\r" in data:
        data = data.translate(ONE_LINE)
    return Prepared(ref, doc=data, original=raw, records=estimate_records(data), shape=shaped.shape,
                    rejects=shaped.rejects, size=len(data), thorough=thorough)  # fmt: skip


def estimate_records(doc: bytes, sample: int = 65536) -> int:
    """About how many records a document holds, for sizing batches: every CloudTrail record
    has an eventVersion; counted in the first 64 KiB and scaled."""
    n = doc.count(b'"eventVersion"', 0, sample)
    return n if len(doc) <= sample else n * len(doc) // sample


def diagnose(doc: bytes) -> str | None:
    """Why a document gave no rows (only called for the rare such file); None: it has no records."""
    try:
        doc.decode("utf-8")
    except UnicodeDecodeError as e:
        return f"not UTF-8: byte 0x{doc[e.start]:02x} at offset {e.start}"
    try:
        obj = json.loads(doc)
    except (ValueError, RecursionError) as e:
        return f"invalid JSON: {e}"
    if not isinstance(obj, dict):
        return f"not a CloudTrail log document: top level is a JSON {type(obj).__name__}, not an object"
    if "Records" not in obj:
        return "not a CloudTrail log document: no Records array"
    if not isinstance(obj["Records"], list):
        return "not a CloudTrail log document: Records is not an array"
    if not obj["Records"]:
        return None  # a valid, empty log file
    return "unreadable JSON document"
