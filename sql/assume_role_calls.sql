-- One row per assume call: the two accounts' copies of a cross-account call become one
-- (the caller's copy preferred: it names the caller). What detectors count. No window
-- function, so a detector's time filter reaches the table scan instead of the whole history.
with events as (
    select
        *,
        coalesce(shared_event_id, eventid) as call_id
    from assume_role_events
),

caller_copies as (
    select *
    from events
    where not is_owner_copy
),

-- the role owner's copy stands in only when the caller's account is outside the trail
owner_only as (
    select o.*
    from events as o
    where o.is_owner_copy
      and not exists (
          select 1
          from events as c
          where not c.is_owner_copy
            and c.call_id = o.call_id
            and c.eventtime = o.eventtime
      )
)

select *
from caller_copies

union all

select *
from owner_only
