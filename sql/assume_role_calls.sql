-- One row per assume call: the two accounts' copies of a cross-account call become one
-- (the caller's copy preferred: it names the caller). What detectors count.
with events as (
    select
        *,
        coalesce(shared_event_id, eventid) as call_id
    from assume_role_events
),

ranked as (
    select
        *,
        row_number() over (
            partition by call_id
            order by case when is_owner_copy then 1 else 0 end, eventtime, eventid
        ) as copy_no
    from events
)

select * exclude (copy_no)
from ranked
where copy_no = 1
