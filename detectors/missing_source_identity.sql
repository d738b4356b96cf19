-- A successful assume of a role that requires sts:SourceIdentity, without one (or not matching
-- the expected pattern); and, learned, a role whose last N successful assumes all carried one.
-- [source_identity] required reaches the query as the table source_identity_required: each
-- glob with the regular expression compiled from it (role_pattern, identity_pattern).
with calls as (
    select *
    from assume_role_calls
    where succeeded
      and role_arn is not null
      and eventtime >= $baseline_start
),

configured as (
    select
        c.*,
        r.role_glob,
        r.identity_glob
    from calls as c
    inner join source_identity_required as r
        on regexp_matches(c.role_arn, r.role_pattern)
    where c.eventtime >= $window_start
      and (
          coalesce(c.source_identity, '') = ''
          or not regexp_matches(c.source_identity, r.identity_pattern)
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
      and not exists (
          select 1
          from source_identity_required as r
          where regexp_matches(s.role_arn, r.role_pattern)
      )
),

-- both kinds with the same columns, by name
findings as (
    select
        'configured' as kind, role_arn, role_account, caller_account, caller_arn, source_ip,
        role_session_name, source_identity, user_agent, eventtime, eventid, role_glob, identity_glob,
        cast(null as bigint) as streak
    from configured

    union all

    select
        'learned' as kind, role_arn, role_account, caller_account, caller_arn, source_ip,
        role_session_name, source_identity, user_agent, eventtime, eventid,
        cast(null as varchar) as role_glob, cast(null as varchar) as identity_glob,
        cast(streak as bigint) as streak
    from learned
),

grouped as (
    select
        kind,
        role_arn,
        min(role_account) as account_id,
        caller_account,
        coalesce(caller_arn, caller_account) as caller,
        date_trunc('day', eventtime) as day,
        min(role_glob) as role_glob,
        min(identity_glob) as identity_glob,
        max(streak) as streak,
        min(caller_arn) as caller_arn,
        array_to_string(list_sort(list(distinct source_ip) filter (where source_ip is not null)), ', ')
            as source_ips,
        min_by(role_session_name, eventtime) as session_name,
        min(source_identity) as source_identity,
        min_by(user_agent, eventtime) as user_agent,
        min(eventtime) as first_seen,
        max(eventtime) as last_seen,
        count(*) as event_count,
        list(eventid order by eventtime, eventid) as event_ids
    from findings
    group by kind, role_arn, caller_account, coalesce(caller_arn, caller_account), date_trunc('day', eventtime)
)

-- the columns after event_ids are the alert's details; `a__b` is key b of object a
select
    kind || '|' || role_arn || '|' || caller || '|' || strftime(day, '%Y-%m-%d') as dedup_key,
    case when kind = 'configured' then 'high' else 'medium' end as severity,
    case
        when kind = 'configured' and source_identity is null
            then 'Assume of ' || role_arn || ' without the required source identity'
        when kind = 'configured'
            then 'Assume of ' || role_arn || ' with a source identity not matching ' || identity_glob
        else 'Assume of ' || role_arn || ' without a source identity, after ' || cast(streak as varchar)
            || ' that carried one'
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
    kind,
    role_glob as required_by,
    identity_glob as expected_pattern,
    source_identity as observed_source_identity,
    streak as learned_streak,
    case when kind = 'learned' then $lookback_days end as baseline__window_days,
    case when kind = 'learned' then 'role_arn (with its account)' end as baseline__key,
    case
        when kind = 'learned'
            then 'the last ' || cast($learned_min_streak as varchar)
                || ' or more successful assumes carried a source identity'
    end as baseline__rule
from grouped
