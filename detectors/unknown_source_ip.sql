-- A cross-account assume from a source address outside [network] known_cidrs. AWS service
-- callers (sourceIPAddress is a service name, or "AWS Internal") are not addresses and are not
-- flagged; a malformed address (real records have them) is reported as such.
with calls as (
    select
        *,
        roletrail_ip_status(source_ip, $known_cidrs) as ip_status
    from assume_role_calls
    where is_cross_account
      and eventtime >= $window_start
      and coalesce(caller_type, '') <> 'AWSService'
),

flagged as (
    select *
    from calls
    where ip_status in ('unknown', 'malformed')
),

grouped as (
    select
        role_arn,
        min(role_account) as account_id,
        caller_account,
        source_ip,
        ip_status,
        date_trunc('day', eventtime) as day,
        min_by(caller_arn, eventtime) as caller_arn,
        array_to_string(
            list_sort(list(distinct role_session_name) filter (where role_session_name is not null)), ', '
        ) as session_names,
        min_by(source_identity, eventtime) as source_identity,
        min_by(user_agent, eventtime) as user_agent,
        count(case when not succeeded then 1 end) as failed,
        min(eventtime) as first_seen,
        max(eventtime) as last_seen,
        count(*) as event_count,
        list(eventid order by eventtime, eventid) as event_ids
    from flagged
    group by role_arn, caller_account, source_ip, ip_status, date_trunc('day', eventtime)
)

-- the columns after event_ids are the alert's details
select
    coalesce(role_arn, '?') || '|' || coalesce(caller_account, '?') || '|' || source_ip || '|'
        || strftime(day, '%Y-%m-%d') as dedup_key,
    case when ip_status = 'malformed' then 'low' else 'high' end as severity,
    case
        when ip_status = 'malformed' then 'Cross-account assume of ' || coalesce(role_arn, '?')
            || ' with a malformed source address'
        else 'Cross-account assume of ' || coalesce(role_arn, '?') || ' from unknown address ' || source_ip
    end as title,
    role_arn,
    account_id,
    caller_account,
    caller_arn,
    source_ip,
    session_names as session_name,
    source_identity,
    user_agent,
    first_seen,
    last_seen,
    event_count,
    event_ids,
    ip_status as address_status,
    $known_cidrs as known_cidrs,
    failed as failed_assumes
from grouped
