-- Records of one shape have the same keys and value types: each shape is checked once, on one
-- of its records, for keys the typed columns do not cover and for values that do not fit
-- their column (such records keep their JSON in raw_record).
create or replace temp table _shapes as
with examples as (
    select shape, any_value(rec) as rec from _recs where keep group by shape
),
described as (
    select shape, json_keys(rec, $paths) as ks, json_type(rec, $typed_paths) as ts from examples
)
select shape, not (
        list_has_all($known[1], ks[1])
        and list_has_all($known[2], coalesce(ks[2], []))
        and list_has_all($known[3], coalesce(ks[3], []))
        and list_has_all($known[4], coalesce(ks[4], []))
        and list_has_all($known[5], coalesce(ks[5], []))
        and list_has_all($known[6], coalesce(ks[6], []))
        -- each typed path holds its kind (OBJECT or ARRAY), JSON null, or nothing
        and list_bool_and(list_transform(list_zip(ts, $typed_kinds),
                                         lambda x: coalesce(x[1] in (x[2], 'NULL'), true)))
    ) as unknown_keys
from described
