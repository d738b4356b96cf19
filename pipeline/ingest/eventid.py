"""The event id a record without one gets, derived from its content: one definition for ingest's
pass 1 and for `lake build`, so both give a record the same id.

The id is the md5 of DuckDB's own serialization of the record's JSON, spelled as a UUID. The
lake builder's executors hold the record as a parsed Python value; `json(text)` of any faithful
serialization of that value gives DuckDB's serialization back (its numbers, escapes and spacing,
not Python's), so it calls the same expression through an in-memory DuckDB.
"""

from __future__ import annotations

DERIVED_ID = r"regexp_replace(md5({json}), '^(.{8})(.{4})(.{4})(.{4})(.{12})$', '\1-\2-\3-\4-\5')"


def expression(json_value: str) -> str:
    """The SQL of the derived id of a JSON value (a column or expression of DuckDB's JSON type)."""
    return DERIVED_ID.replace("{json}", json_value)


def derived_ids(texts: list[str]) -> list[str]:
    """The derived id of each record given as JSON text, in order (one DuckDB query)."""
    if not texts:
        return []
    import duckdb

    with duckdb.connect() as con:
        (ids,) = con.execute(
            f"select list_transform($texts, lambda t: {expression('json(t)')})", {"texts": texts}
        ).fetchone()
    return ids
