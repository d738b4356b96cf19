-- One row per trust policy seen in the logs: CreateRole's assumeRolePolicyDocument and
-- UpdateAssumeRolePolicy's policyDocument (JSON text, often pretty-printed), with who set it and
-- the role's previous version when the logs have one. A failed call sets nothing; a CreateRole
-- starts a role afresh (a deleted role's name can be reused), so it has no previous version.
with changes as (
    select
        eventid,
        eventtime,
        eventname,
        coalesce(recipientaccountid, useridentity.accountid) as role_account,
        json_extract_string(requestparameters, '$.roleName') as role_name,
        json_extract_string(responseelements, '$.role.arn') as created_arn,
        case
            when eventname = 'CreateRole'
                then json_extract_string(requestparameters, '$.assumeRolePolicyDocument')
            else json_extract_string(requestparameters, '$.policyDocument')
        end as document_text,
        useridentity.arn as changed_by,
        useridentity.accountid as changed_by_account,
        sourceipaddress as source_ip,
        useragent as user_agent
    from cloudtrail_logs
    where eventsource = 'iam.amazonaws.com'
      and eventname in ('CreateRole', 'UpdateAssumeRolePolicy')
      and errorcode is null
),

parsed as (
    select
        *,
        try_cast(document_text as json) as document
    from changes
    where document_text is not null
      and role_name is not null
),

named as (
    select
        *,
        -- UpdateAssumeRolePolicy names the role only; a role name is unique in its account
        coalesce(created_arn, 'arn:aws:iam::' || role_account || ':role/' || role_name) as role_arn
    from parsed
    where document is not null
),

versioned as (
    select
        *,
        lag(eventid) over w as lag_eventid,
        lag(eventtime) over w as lag_eventtime,
        lag(document) over w as lag_document
    from named
    window w as (partition by role_account, role_name order by eventtime, eventid)
)

select
    eventid as version_id,
    eventtime,
    eventname,
    role_arn,
    role_account,
    role_name,
    document,
    changed_by,
    changed_by_account,
    source_ip,
    user_agent,
    case when eventname <> 'CreateRole' then lag_eventid end as previous_version_id,
    case when eventname <> 'CreateRole' then lag_eventtime end as previous_eventtime,
    case when eventname <> 'CreateRole' then lag_document end as previous_document
from versioned
