"""Printing query results and alerts as table, csv, json or jsonl.

The table is for a terminal: log values are made visible (pipeline.text). csv, json and
jsonl are for programs and stay exact.
"""

from __future__ import annotations

import csv
import datetime as dt
import decimal
import json
import sys
import uuid

from pipeline.text import visible

FORMATS = ["table", "csv", "json", "jsonl"]


def jsonable(v):
    if isinstance(v, dt.datetime):
        return (
            v.strftime("%Y-%m-%dT%H:%M:%S")
            + (f".{v.microsecond:06d}" if v.microsecond else "")
            + ("Z" if v.tzinfo is None or v.utcoffset() == dt.timedelta(0) else v.strftime("%z"))
        )
    if isinstance(v, dt.date | dt.time):
        return v.isoformat()
    if isinstance(v, decimal.Decimal):
        return float(v)
    if isinstance(v, uuid.UUID | bytes):
        return str(v)
    if isinstance(v, dict):
        return {k: jsonable(x) for k, x in v.items()}
    if isinstance(v, list | tuple):
        return [jsonable(x) for x in v]
    return v


def cell(v) -> str:
    if v is None:
        return ""
    if isinstance(v, dict | list):
        return json.dumps(jsonable(v), separators=(",", ":"))
    if isinstance(v, dt.datetime):
        return jsonable(v)
    return str(v)


def write_rows(columns: list[str], rows: list[tuple], fmt: str, out=None, max_width: int = 60) -> None:
    out = out or sys.stdout
    if fmt == "jsonl":
        for r in rows:
            out.write(json.dumps(jsonable(dict(zip(columns, r, strict=True))), ensure_ascii=False) + "\n")
    elif fmt == "json":
        json.dump(
            [jsonable(dict(zip(columns, r, strict=True))) for r in rows], out, indent=2, ensure_ascii=False
        )
        out.write("\n")
    elif fmt == "csv":
        w = csv.writer(out)
        w.writerow(columns)
        for r in rows:
            w.writerow([cell(v) for v in r])
    else:
        texts = [[_clip(cell(v), max_width) for v in r] for r in rows]
        widths = [max([len(c)] + [len(t[i]) for t in texts]) for i, c in enumerate(columns)]
        out.write("  ".join(c.ljust(w) for c, w in zip(columns, widths, strict=True)).rstrip() + "\n")
        out.write("  ".join("-" * w for w in widths) + "\n")
        for t in texts:
            out.write("  ".join(c.ljust(w) for c, w in zip(t, widths, strict=True)).rstrip() + "\n")
        out.write(f"({len(rows)} row{'s' if len(rows) != 1 else ''})\n")


def _clip(s: str, n: int) -> str:
    # a table is for eyes on a terminal: hidden characters escaped, long values clipped
    return visible(s, n - 1) if len(s) > n else visible(s)
