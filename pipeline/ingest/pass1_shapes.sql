-- Records of one shape have the same keys: each shape is checked once, on one of its records,
-- for keys the typed columns do not cover (such records keep their JSON in raw_record). A shape
-- where a struct or list column shows no keys is `ambiguous`: an empty object, or a value that
-- does not fit its column (`"userIdentity": "..."`), which pass 2 tells apart record by record.
create or replace temp table _shapes as
with examples as (
    select shape, any_value(rec) as rec from _recs where keep group by shape
),
described as (
    select shape, json_keys(rec, $paths) as ks from examples
)
select shape,
    not (
        list_has_all($known[1], ks[1])
        and list_has_all($known[2], coalesce(ks[2], []))
        and list_has_all($known[3], coalesce(ks[3], []))
        and list_has_all($known[4], coalesce(ks[4], []))
        and list_has_all($known[5], coalesce(ks[5], []))
        and list_has_all($known[6], coalesce(ks[6], []))
    ) as unknown_keys,
    coalesce(list_bool_or(list_transform($typed_keys, lambda i: len(ks[i]) = 0)), false)
        or (list_contains(ks[1], 'resources') and coalesce(len(ks[$first_resource]), 0) = 0) as ambiguous
from described
