-- Which loadable records are new: the first copy within the batch, and not already in the table
create or replace temp table _cand as
with good as (
    select f, idx, h, ts, derived, eventid, recipientaccountid from _recs where keep
),
ranked as (
    select *, row_number() over (partition by h, eventid order by f, idx) as copy_no
    from good
)
select r.* exclude (copy_no), copy_no = 1 and not exists (
        select 1 from cloudtrail_logs t
        -- the batch's time range ($first, $last): the same rows (a copy has the same eventtime),
        -- and the scan skips the row groups of other times instead of reading the whole table
        where t.eventtime between $first and $last
          and t.record_hash = r.h and t.eventid = r.eventid and t.eventtime = r.ts
          and t.recipientaccountid is not distinct from r.recipientaccountid
    ) as is_new
from ranked r
