"""The manifest: which objects were seen, and what became of each (table ingest_manifest)."""

from __future__ import annotations

import datetime as dt

from pipeline.sources import ObjectRef
from pipeline.store.tables import MANIFEST_COLUMNS

# the columns a batch writes (the insert casts each list to the column's type); `source` is one value
WRITTEN = tuple(name for name, _ in MANIFEST_COLUMNS if name != "source")


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC).replace(tzinfo=None)


def new_objects(con, refs: list[ObjectRef]) -> list[ObjectRef]:
    """The refs not yet in the manifest, or whose etag changed since (skipped ones stay skipped)."""
    if not refs:
        return []
    keep = con.execute(
        """with listed as (select unnest($uris) as uri, unnest($etags)::varchar as etag)
        select l.uri from listed l left join ingest_manifest m on m.uri = l.uri
        where m.uri is null or (m.etag is distinct from l.etag and m.status <> 'skipped')""",
        {"uris": [r.uri for r in refs], "etags": [r.etag for r in refs]},
    ).fetchall()
    wanted = {u for (u,) in keep}
    return [r for r in refs if r.uri in wanted]


def row(ref: ObjectRef, status: str, run_id: str, now: dt.datetime, **values) -> dict:
    """One manifest row; counts not given are 0, other columns NULL."""
    out = {
        "uri": ref.uri,
        "etag": ref.etag,
        "size": ref.size,
        "last_modified": ref.last_modified,
        "status": status,
        "rows_loaded": 0,
        "duplicates": 0,
        "quarantined_records": 0,
        "records_skipped": 0,
        "run_id": run_id,
        "loaded_at": now,
    }
    out.update(values)
    return {name: out.get(name) for name in WRITTEN}


def write(con, rows: list[dict], source: str) -> None:
    if not rows:
        return
    # plain lists as parameters: no pyarrow or pandas import for a few thousand rows
    columns = {name: [r[name] for r in rows] for name in WRITTEN}
    select = ", ".join(f"unnest(${name}) as {name}" for name in WRITTEN)
    con.execute(
        f"insert or replace into ingest_manifest by name select {select}, $source as source",
        {**columns, "source": source},
    )
