"""Athena (Presto/Trino) functions as DuckDB macros, so queries written for Athena run unchanged."""

ATHENA_MACROS = {
    # Athena returns NULL for a non-scalar; json_extract_string would return its JSON text
    "json_extract_scalar": "(j, p) as case when json_type(j::json, p) in ('OBJECT', 'ARRAY') then null "
    "else json_extract_string(j::json, p) end",
    "json_parse": "(s) as s::json",
    "json_format": "(j) as j::varchar",
    "json_array_contains": "(j, v) as list_contains(from_json(j::json, '[\"VARCHAR\"]'), v::varchar)",
    "json_size": "(j, p) as json_array_length(j::json, p)",
    "from_iso8601_timestamp": "(s) as cast(s as timestamptz)",
    "from_iso8601_date": "(s) as cast(s as date)",
    "to_iso8601": "(t) as strftime(t::timestamp, '%Y-%m-%dT%H:%M:%S.%gZ')",
    "from_unixtime": "(x) as to_timestamp(x)",
    "to_unixtime": "(t) as epoch(t)",
    "regexp_like": "(s, p) as regexp_matches(s, p)",
    "approx_distinct": "(x) as approx_count_distinct(x)",
    "cardinality": "(l) as len(l)",
}
