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
            range between current row and interval ($window_minutes) minute following
        ) as in_window,
        case
            when lag(eventtime) over (partition by role_arn order by eventtime, eventid)
                >= eventtime - interval ($window_minutes) minute
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
        min(role_account) as account_id,
        max(in_window) as peak,
        count(*) as event_count,
        min(eventtime) as first_seen,
        max(eventtime) as last_seen,
        -- a cluster's first row (in eventtime, eventid order) is the one that starts it
        max(case when starts_cluster = 1 then eventid end) as first_eventid,
        list(eventid order by eventtime, eventid) as event_ids,
        count(distinct coalesce(caller_arn, caller_account)) as callers,
        count(distinct source_ip) as source_ips,
        count(distinct role_session_name) as session_names,
        list(distinct coalesce(caller_arn, caller_account))
            filter (where coalesce(caller_arn, caller_account) is not null) as caller_list,
        list(distinct source_ip) filter (where source_ip is not null) as ip_list,
        list(distinct role_session_name) filter (where role_session_name is not null) as session_list,
        min_by(caller_account, eventtime) as caller_account,
        min_by(caller_arn, eventtime) as caller_arn,
        min_by(source_ip, eventtime) as source_ip,
        min_by(role_session_name, eventtime) as session_name,
        min_by(source_identity, eventtime) as source_identity,
        min_by(user_agent, eventtime) as user_agent
    from clustered
    group by role_arn, cluster_no
)

-- the columns after event_ids are the alert's details (pipeline/detect.py assembles them)
select
    role_arn || '|' || first_eventid as dedup_key,
    case when callers > 1 or source_ips > 1 then 'high' else 'medium' end as severity,
    cast(event_count as varchar) || ' denied assumes of ' || role_arn || ' within '
        || cast($window_minutes as varchar) || ' minutes' as title,
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
    peak as peak_in_window,
    $window_minutes as window_minutes,
    $min_events as threshold,
    callers as distinct_callers,
    source_ips as distinct_source_ips,
    session_names as distinct_session_names,
    caller_list as callers,
    ip_list as source_ips,
    session_list as session_names
from clusters
where peak >= $min_events
  and last_seen >= $window_start
