-- One row per role session: the successful assume that issued it. The access key it issued
-- is the userIdentity.accessKeyId of every later call made with the session, including the
-- next AssumeRole of a chain. Both copies of a cross-account call carry the same key; the
-- caller's copy (which names the caller) is preferred.
with issued as (
    select *
    from assume_role_events
    where succeeded and issued_access_key_id is not null
),

ranked as (
    select
        *,
        row_number() over (
            partition by issued_access_key_id
            order by case when is_owner_copy then 1 else 0 end, eventtime, eventid
        ) as copy_no
    from issued
)

select
    issued_access_key_id as access_key_id,
    eventid as issuing_eventid,
    shared_event_id,
    eventtime as issued_at,
    eventname,
    role_arn,
    role_account,
    role_session_name,
    source_identity,
    source_ip,
    user_agent,
    caller_type,
    caller_arn,
    caller_account,
    caller_access_key_id,
    caller_principal_id,
    caller_user_name,
    caller_identity_provider,
    caller_invoked_by,
    duration_seconds,
    case when caller_type = 'AssumedRole' then caller_access_key_id end as parent_access_key_id
from ranked
where copy_no = 1
