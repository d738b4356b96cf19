-- One row per cross-account call. CloudTrail writes the call in the caller's account and,
-- with userIdentity.type 'AWSAccount', in the role owner's; both share sharedEventID.
-- A denied call is logged only on the caller's side; a side outside the trail stays empty.
with calls as (
    select
        *,
        coalesce(shared_event_id, eventid) as call_id
    from cross_account_assume_roles
),

caller_side as (
    select *
    from (
        select
            *,
            row_number() over (partition by call_id order by eventtime, eventid) as copy_no
        from calls
        where not is_owner_copy
    ) as ranked
    where copy_no = 1
),

owner_side as (
    select *
    from (
        select
            *,
            row_number() over (partition by call_id order by eventtime, eventid) as copy_no
        from calls
        where is_owner_copy
    ) as ranked
    where copy_no = 1
),

paired as (
    select
        coalesce(c.call_id, o.call_id) as call_id,
        coalesce(c.shared_event_id, o.shared_event_id) as shared_event_id,
        coalesce(c.eventtime, o.eventtime) as eventtime,
        coalesce(c.eventname, o.eventname) as eventname,
        coalesce(c.caller_account, o.caller_account) as caller_account,
        c.caller_type,
        c.caller_arn,
        c.caller_access_key_id,
        coalesce(c.role_arn, o.role_arn) as role_arn,
        coalesce(c.role_account, o.role_account) as role_account,
        coalesce(c.role_session_name, o.role_session_name) as role_session_name,
        coalesce(c.source_identity, o.source_identity) as source_identity,
        coalesce(c.source_ip, o.source_ip) as source_ip,
        coalesce(c.user_agent, o.user_agent) as user_agent,
        coalesce(c.error_code, o.error_code) as error_code,
        coalesce(c.issued_access_key_id, o.issued_access_key_id) as issued_access_key_id,
        c.eventid as caller_eventid,
        o.eventid as owner_eventid,
        c.recipient_account_id as caller_recipient_account_id,
        o.recipient_account_id as owner_recipient_account_id,
        c.eventid is not null as has_caller_side,
        o.eventid is not null as has_owner_side
    from caller_side as c
    full outer join owner_side as o
        on c.call_id = o.call_id
)

select *
from paired
