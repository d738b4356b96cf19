-- At least $min_events AccessDenied assume calls naming one role within $window_minutes:
-- someone probing a trust policy. CloudTrail logs a denied cross-account call only in the
-- caller's account, so the role comes from the request (or the error message).
with denied as (
    select *
    from assume_role_calls
    where error_code in ('AccessDenied', 'AccessDeniedException', 'Client.UnauthorizedOperation')
      and role_arn is not null
      and eventtime >= $baseline_start
),

windowed as (
    select
        *,
        count(*) over (
            partition by role_arn order by eventtime
            range between current row and to_minutes($window_minutes) following
        ) as in_window,
        case
            when lag(eventtime) over (partition by role_arn order by eventtime, eventid)
                >= eventtime - to_minutes($window_minutes)
                then 0
            else 1
        end as starts_cluster
    from denied
),

clustered as (
    select
        *,
        sum(starts_cluster) over (
            partition by role_arn order by eventtime, eventid rows unbounded preceding
        ) as cluster_no
    from windowed
),

clusters as (
    select
        role_arn,
        cluster_no,
        any_value(role_account) as account_id,
        max(in_window) as peak,
        count(*) as event_count,
        min(eventtime) as first_seen,
        max(eventtime) as last_seen,
        arg_min(eventid, eventtime) as first_eventid,
        list(eventid order by eventtime) as event_ids,
        count(distinct coalesce(caller_arn, caller_account)) as callers,
        count(distinct source_ip) as source_ips,
        count(distinct role_session_name) as session_names,
        list(distinct coalesce(caller_arn, caller_account)) as caller_list,
        list(distinct source_ip) as ip_list,
        list(distinct role_session_name) as session_list,
        any_value(caller_account order by eventtime) as caller_account,
        any_value(caller_arn order by eventtime) as caller_arn,
        any_value(source_ip order by eventtime) as source_ip,
        any_value(role_session_name order by eventtime) as session_name,
        any_value(source_identity order by eventtime) as source_identity,
        any_value(user_agent order by eventtime) as user_agent
    from clustered
    group by role_arn, cluster_no
)

select
    role_arn || '|' || first_eventid as dedup_key,
    case when callers > 1 or source_ips > 1 then 'high' else 'medium' end as severity,
    event_count || ' denied assumes of ' || role_arn || ' within ' || $window_minutes || ' minutes' as title,
    role_arn,
    account_id,
    caller_account,
    caller_arn,
    source_ip,
    session_name,
    source_identity,
    user_agent,
    first_seen,
    last_seen,
    event_count,
    event_ids,
    to_json({
        'peak_in_window': peak,
        'window_minutes': $window_minutes,
        'threshold': $min_events,
        'distinct_callers': callers,
        'distinct_source_ips': source_ips,
        'distinct_session_names': session_names,
        'callers': caller_list[1:20],
        'source_ips': ip_list[1:20],
        'session_names': session_list[1:20]
    }) as details
from clusters
where peak >= $min_events
  and last_seen >= $window_start
