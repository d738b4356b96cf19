-- A RoleSessionName whose shape (deploy-4711 -> deploy-{id}, export-9f1c...-fefb -> export-{id};
-- pipeline/session_shape.sql) was never seen for this role in the baseline window, once the role has
-- enough history.
with named as (
    select *
    from assume_role_calls
    where succeeded
      and role_arn is not null
      and role_session_name is not null
      and eventtime >= $baseline_start
),

-- each distinct name's shape once: names recur (the bench's 90 days: 24k names for 82k calls)
shapes as (
    select
        role_session_name as shape_of,
        roletrail_session_shape(role_session_name) as shape
    from (select distinct role_session_name from named) as n
),

calls as (
    select
        named.*,
        shapes.shape
    from named
    inner join shapes on named.role_session_name = shapes.shape_of
),

history as (
    select
        *,
        lag(eventtime) over (partition by role_arn, shape order by eventtime, eventid) as shape_seen_before,
        count(*) over (
            partition by role_arn order by eventtime
            range between interval ($lookback_days) day preceding and current row
        ) - 1 as role_assumes_before,
        min(eventtime) over (partition by role_arn) as role_first_seen
    from calls
),

novel as (
    select *
    from history
    where eventtime >= $window_start
      and (shape_seen_before is null or shape_seen_before < eventtime - interval ($lookback_days) day)
      and role_assumes_before >= $min_history_assumes
      and role_first_seen <= eventtime - interval ($min_history_days) day
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
       and c.eventtime < n.eventtime + interval '1' day
)

-- the columns after event_ids are the alert's details; `a__b` is key b of object a
select
    -- 'T' outside the format: an unquoted T is a pattern letter in Spark's date formats
    role_arn || '|' || shape || '|' || strftime(shape_first_seen, '%Y-%m-%d') || 'T'
        || strftime(shape_first_seen, '%H:%M:%S') as dedup_key,
    'medium' as severity,
    'Never-seen session name shape ' || shape || ' for ' || role_arn as title,
    role_arn,
    min(role_account) as account_id,
    min_by(caller_account, eventtime) as caller_account,
    min_by(caller_arn, eventtime) as caller_arn,
    min_by(source_ip, eventtime) as source_ip,
    min_by(role_session_name, eventtime) as session_name,
    min_by(source_identity, eventtime) as source_identity,
    min_by(user_agent, eventtime) as user_agent,
    min(eventtime) as first_seen,
    max(eventtime) as last_seen,
    count(distinct eventid) as event_count,
    list(eventid order by eventtime, eventid) as event_ids,
    shape,
    list(distinct role_session_name) filter (where role_session_name is not null) as session_names,
    max(history_assumes) as role_assumes_in_baseline,
    $lookback_days as baseline__window_days,
    'role_arn (with its account)' as baseline__key,
    $min_history_assumes as baseline__min_history_assumes,
    $min_history_days as baseline__min_history_days
from same_day
group by role_arn, shape, shape_first_seen
