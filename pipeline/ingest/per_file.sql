-- Per file of the batch: records, loaded, duplicates, quarantined, skipped (Insights)
with files as (
    select f, count(*) as n, count(*) filter (where insight) as skipped from _recs group by f
),
bad as (
    select f, count(*) as bad from _bad group by f
),
cand as (
    select f, count(*) filter (where is_new) as loaded, count(*) filter (where not is_new) as dups
    from _cand group by f
)
select files.f, files.n, coalesce(cand.loaded, 0), coalesce(cand.dups, 0), coalesce(bad.bad, 0), files.skipped
from files
left join cand on cand.f = files.f
left join bad on bad.f = files.f
