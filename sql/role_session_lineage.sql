-- For each role session: its issuing assume, its parent session (when the caller was itself a
-- role session), the origin identity at the root of the chain and the depth. A session whose
-- parent was not ingested is a root whose origin is the parent's role session ARN.
-- The recursive step names its columns and comes first: Trino requires both.
with recursive chain (access_key_id, parent_access_key_id, root_access_key_id, depth, path) as (
    select
        s.access_key_id,
        p.access_key_id as parent_access_key_id,
        s.access_key_id as root_access_key_id,
        1 as depth,
        [s.access_key_id] as path
    from role_sessions as s
    left join role_sessions as p
        on s.parent_access_key_id = p.access_key_id
    where p.access_key_id is null

    union all

    select
        s.access_key_id,
        c.access_key_id as parent_access_key_id,
        c.root_access_key_id,
        c.depth + 1 as depth,
        list_append(c.path, s.access_key_id) as path
    from role_sessions as s
    inner join chain as c
        on s.parent_access_key_id = c.access_key_id
    -- guard against cycles (a key reappearing) and runaway depth
    where c.depth < 20
      and not list_contains(c.path, s.access_key_id)
),

origins as (
    select
        access_key_id as root_access_key_id,
        caller_type as origin_type,
        coalesce(
            caller_arn,
            case
                when caller_type in ('SAMLUser', 'WebIdentityUser')
                    then caller_type || ':' || coalesce(caller_user_name, caller_principal_id)
                        || coalesce('@' || caller_identity_provider, '')
            end,
            caller_invoked_by,
            caller_principal_id
        ) as origin_identity,
        caller_account as origin_account,
        source_ip as origin_source_ip
    from role_sessions
)

select
    s.access_key_id,
    s.issuing_eventid,
    s.issued_at,
    s.eventname,
    s.role_arn,
    s.role_account,
    s.role_session_name,
    s.source_identity,
    s.source_ip,
    s.caller_type,
    s.caller_arn,
    s.caller_account,
    c.parent_access_key_id,
    c.root_access_key_id,
    c.depth,
    c.path,
    o.origin_type,
    o.origin_identity,
    o.origin_account,
    o.origin_source_ip
from chain as c
inner join role_sessions as s
    on c.access_key_id = s.access_key_id
inner join origins as o
    on c.root_access_key_id = o.root_access_key_id
