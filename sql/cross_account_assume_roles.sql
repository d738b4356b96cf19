-- The cross-account subset of assume_role_events: the caller's account is not the role's.
with events as (
    select *
    from assume_role_events
)

select *
from events
where is_cross_account
