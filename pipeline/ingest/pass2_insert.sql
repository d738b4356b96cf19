-- Pass 2: the full typed parse, straight into the table (struct fields are matched to the
-- table's lowercase ones by name). The select below runs once per part of the batch, a range
-- of its documents ($lo{part} <= f < $hi{part}), and the parts are one union: DuckDB gives a
-- scan one thread per row group, and a batch of fewer row groups (122,880 rows each) than
-- threads would parse on one thread. Each thread writes its own row groups, from one part
-- in order: rows stay in listing order row group by row group.
-- {expressions} are the schema's columns' expressions over `s`, in the order of the loader's
-- insert column list (pipeline/ingest/loader.py).
select {expressions}, ts, case when needs_raw then rec end, $uris[f + 1], idx, h, derived, $now
from (
    select r.f, r.idx, r.rec, r.h, r.ts,
        r.needs_raw or sh.unknown_keys or case
            -- parsed only for ambiguous shapes: is each struct or list column's value one?
            when sh.ambiguous then not list_bool_and(list_transform(list_zip(json_type(r.rec, $typed_paths),
                $typed_kinds), lambda x: coalesce(x[1] in (x[2], 'NULL'), true)))
            else false
        end as needs_raw,
        r.eventid, r.derived, roletrail_parse_record(r.rec) as s
    from _recs r join _shapes sh using (shape)
    -- duplicates are few: leave them out rather than join every row with its verdict
    where r.keep and r.f >= $lo{part} and r.f < $hi{part}
      and (r.f, r.idx) not in (select (f, idx) from _cand where not is_new)
) new
