-- Different records sharing an event id: kept, and counted (hand-edited samples do this)
with new as (
    select * from _cand where is_new and not derived
),
numbered as (
    select eventid, h, row_number() over (partition by eventid order by f, idx) as n from new
)
select count(*) from numbered x
where n > 1 or exists (select 1 from cloudtrail_logs t where t.eventid = x.eventid)
