-- A successful assume of a role that requires sts:SourceIdentity, without one (or not matching
-- the expected pattern); and, learned, a role whose last N successful assumes all carried one.
with calls as (
    select *
    from assume_role_calls
    where succeeded
      and role_arn is not null
      and eventtime >= $baseline_start
),

required as (
    select
        unnest($required_role_globs) as role_glob,
        unnest($required_identity_globs) as identity_glob
),

configured as (
    select
        c.*,
        r.role_glob,
        r.identity_glob
    from calls as c
    inner join required as r
        on c.role_arn glob r.role_glob
    where c.eventtime >= $window_start
      and (
          coalesce(c.source_identity, '') = ''
          or not (c.source_identity glob r.identity_glob)
      )
),

ordered as (
    select
        *,
        row_number() over (partition by role_arn order by eventtime, eventid) as n
    from calls
),

streaks as (
    select
        *,
        n - 1 - coalesce(max(case when coalesce(source_identity, '') = '' then n end) over (
            partition by role_arn order by eventtime, eventid
            rows between unbounded preceding and 1 preceding
        ), 0) as streak
    from ordered
),

learned as (
    select s.*
    from streaks as s
    where s.eventtime >= $window_start
      and coalesce(s.source_identity, '') = ''
      and s.streak >= $learned_min_streak
      and not exists (select 1 from required as r where s.role_arn glob r.role_glob)
),

findings as (
    select
        *,
        'configured' as kind,
        null::bigint as streak
    from configured
    union all by name
    select
        * exclude (n),
        'learned' as kind,
        null as role_glob,
        null as identity_glob
    from learned
),

grouped as (
    select
        kind,
        role_arn,
        any_value(role_account) as account_id,
        caller_account,
        coalesce(caller_arn, caller_account) as caller,
        date_trunc('day', eventtime) as day,
        any_value(role_glob) as role_glob,
        any_value(identity_glob) as identity_glob,
        max(streak) as streak,
        any_value(caller_arn) as caller_arn,
        string_agg(distinct source_ip, ', ') as source_ips,
        any_value(role_session_name order by eventtime) as session_name,
        any_value(source_identity) as source_identity,
        any_value(user_agent order by eventtime) as user_agent,
        min(eventtime) as first_seen,
        max(eventtime) as last_seen,
        count(*) as event_count,
        list(eventid order by eventtime) as event_ids
    from findings
    group by kind, role_arn, caller_account, coalesce(caller_arn, caller_account), date_trunc('day', eventtime)
)

select
    kind || '|' || role_arn || '|' || caller || '|' || strftime(day, '%Y-%m-%d') as dedup_key,
    case when kind = 'configured' then 'high' else 'medium' end as severity,
    case
        when kind = 'configured' and source_identity is null
            then 'Assume of ' || role_arn || ' without the required source identity'
        when kind = 'configured'
            then 'Assume of ' || role_arn || ' with a source identity not matching ' || identity_glob
        else 'Assume of ' || role_arn || ' without a source identity, after ' || streak || ' that carried one'
    end as title,
    role_arn,
    account_id,
    caller_account,
    caller_arn,
    source_ips as source_ip,
    session_name,
    source_identity,
    user_agent,
    first_seen,
    last_seen,
    event_count,
    event_ids,
    to_json({
        'kind': kind,
        'required_by': role_glob,
        'expected_pattern': identity_glob,
        'observed_source_identity': source_identity,
        'learned_streak': streak,
        'baseline': case when kind = 'learned' then {
            'window_days': $lookback_days, 'key': 'role_arn (with its account)',
            'rule': 'the last ' || $learned_min_streak || ' or more successful assumes carried a source identity'
        } end
    }) as details
from grouped
