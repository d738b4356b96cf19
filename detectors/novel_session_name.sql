-- A RoleSessionName whose shape (deploy-4711 -> deploy-{n}, export-9f1c... -> export-{uuid})
-- was never seen for this role in the baseline window, once the role has enough history.
with calls as (
    select
        *,
        regexp_replace(regexp_replace(regexp_replace(regexp_replace(
            role_session_name,
            '[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}', '{uuid}', 'g'),
            '[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+', '{email}', 'g'),
            '[0-9a-f]*[0-9][0-9a-f]*[a-f][0-9a-f]*|[0-9a-f]*[a-f][0-9a-f]*[0-9][0-9a-f]*', '{hex}', 'g'),
            '[0-9]+', '{n}', 'g') as shape
    from assume_role_calls
    where succeeded
      and role_arn is not null
      and role_session_name is not null
      and eventtime >= $baseline_start
),

history as (
    select
        *,
        lag(eventtime) over (partition by role_arn, shape order by eventtime, eventid) as shape_seen_before,
        count(*) over (
            partition by role_arn order by eventtime
            range between to_days($lookback_days) preceding and current row
        ) - 1 as role_assumes_before,
        min(eventtime) over (partition by role_arn) as role_first_seen
    from calls
),

novel as (
    select *
    from history
    where eventtime >= $window_start
      and (shape_seen_before is null or shape_seen_before < eventtime - to_days($lookback_days))
      and role_assumes_before >= $min_history_assumes
      and role_first_seen <= eventtime - to_days($min_history_days)
),

-- later uses of the new shape on its first day join the same alert
same_day as (
    select
        c.*,
        n.eventtime as shape_first_seen,
        n.role_assumes_before as history_assumes
    from calls as c
    inner join novel as n
        on c.role_arn = n.role_arn
       and c.shape = n.shape
       and c.eventtime >= n.eventtime
       and c.eventtime < n.eventtime + interval 1 day
)

select
    role_arn || '|' || shape || '|' || strftime(shape_first_seen, '%Y-%m-%dT%H:%M:%S') as dedup_key,
    'medium' as severity,
    'Never-seen session name shape ' || shape || ' for ' || role_arn as title,
    role_arn,
    any_value(role_account) as account_id,
    arg_min(caller_account, eventtime) as caller_account,
    arg_min(caller_arn, eventtime) as caller_arn,
    arg_min(source_ip, eventtime) as source_ip,
    arg_min(role_session_name, eventtime) as session_name,
    arg_min(source_identity, eventtime) as source_identity,
    arg_min(user_agent, eventtime) as user_agent,
    min(eventtime) as first_seen,
    max(eventtime) as last_seen,
    count(distinct eventid) as event_count,
    list(distinct eventid) as event_ids,
    to_json({
        'shape': shape,
        'session_names': list(distinct role_session_name)[1:20],
        'role_assumes_in_baseline': max(history_assumes),
        'baseline': {
            'window_days': $lookback_days, 'key': 'role_arn (with its account)',
            'min_history_assumes': $min_history_assumes, 'min_history_days': $min_history_days
        }
    }) as details
from same_day
group by role_arn, shape, shape_first_seen
