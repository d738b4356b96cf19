-- Different records sharing an event id: kept, and counted (hand-edited samples do this)
with new as (
    select * from _cand where is_new and not derived
),
numbered as (
    select eventid, h, row_number() over (partition by eventid order by f, idx) as n from new
),
-- the table's rows with one of the batch's new ids: the batch's few ids are the hash table that
-- the table's eventid column is probed against, not the other way round (a hash table of every
-- id in the table, built again for each batch)
seen as (
    select distinct eventid from cloudtrail_logs where eventid in (select eventid from new)
)
select count(*) from numbered x
where n > 1 or x.eventid in (select eventid from seen)
