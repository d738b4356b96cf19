-- The batch's quarantined records: those pass 1 judged, and those rejected before loading
-- (their place in the document holds a null: the reject's reason replaces pass 1's)
create or replace temp table _bad as
with rejected as (
    select unnest($reject_f::integer[]) as f, unnest($reject_idx::bigint[]) as idx,
        unnest($reject_reason::varchar[]) as reason, unnest($reject_text::varchar[]) as record
),
judged as (
    select r.f, r.idx, r.reason as kind, r.reason || coalesce(': ' || r.event_time, '') as reason,
        r.rec::varchar as record
    from _recs r
    where r.reason is not null and not exists (select 1 from rejected j where j.f = r.f and j.idx = r.idx)
)
select f, idx, kind, reason, record from judged
union all
select f, idx, reason as kind, reason, record from rejected
