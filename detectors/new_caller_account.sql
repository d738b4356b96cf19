-- The first time in the baseline window that an account assumes a role in another account.
-- Only judged once the role's account has been in the trail for $min_history_days before the
-- call, so a first load does not call everything new.
with calls as (
    select *
    from assume_role_calls
    where is_cross_account
      and succeeded
      and caller_account is not null
      and role_account is not null
      and eventtime >= $baseline_start
),

-- how long each account has been in the trail: any of its records counts, not only
-- cross-account calls (else the first outside caller of an account could never be new)
accounts as (
    select
        recipientaccountid as account_id,
        min(eventtime) as first_seen
    from cloudtrail_logs
    where eventtime >= $baseline_start
      and recipientaccountid is not null
    group by recipientaccountid
),

history as (
    select
        c.*,
        lag(c.eventtime) over (
            partition by c.caller_account, c.role_account order by c.eventtime, c.eventid
        ) as previous_time,
        -- an account outside the trail (an outgoing call) is as old as the calls into it
        least(
            coalesce(a.first_seen, c.eventtime), min(c.eventtime) over (partition by c.role_account)
        ) as role_account_first_seen
    from calls as c
    left join accounts as a
        on c.role_account = a.account_id
),

first_calls as (
    select *
    from history
    where eventtime >= $window_start
      and (previous_time is null or previous_time < eventtime - interval ($lookback_days) day)
      and role_account_first_seen <= eventtime - interval ($min_history_days) day
      and not list_contains($expected_pairs, caller_account || '>' || role_account)
      and not list_contains($expected_pairs, caller_account || '>' || role_arn)
),

-- the rest of the first day of a new pair belongs to the same alert
same_day as (
    select
        h.*,
        f.eventtime as pair_first_seen
    from history as h
    inner join first_calls as f
        on h.caller_account = f.caller_account
       and h.role_account = f.role_account
       and h.eventtime >= f.eventtime
       and h.eventtime < f.eventtime + interval '1' day
)

-- the columns after event_ids are the alert's details; `a__b` is key b of object a
select
    -- 'T' outside the format: an unquoted T is a pattern letter in Spark's date formats
    caller_account || '>' || role_account || '|' || strftime(pair_first_seen, '%Y-%m-%d') || 'T'
        || strftime(pair_first_seen, '%H:%M:%S') as dedup_key,
    'medium' as severity,
    'Account ' || caller_account || ' assumed a role in account ' || role_account || ' for the first time'
        as title,
    min_by(role_arn, eventtime) as role_arn,
    role_account as account_id,
    caller_account,
    min_by(caller_arn, eventtime) as caller_arn,
    min_by(source_ip, eventtime) as source_ip,
    min_by(role_session_name, eventtime) as session_name,
    min_by(source_identity, eventtime) as source_identity,
    min_by(user_agent, eventtime) as user_agent,
    min(eventtime) as first_seen,
    max(eventtime) as last_seen,
    count(distinct eventid) as event_count,
    list(eventid order by eventtime, eventid) as event_ids,
    list(distinct role_arn) filter (where role_arn is not null) as roles,
    $lookback_days as baseline__window_days,
    'caller account -> role account' as baseline__key,
    $min_history_days as baseline__history_required_days
from same_day
group by caller_account, role_account, pair_first_seen
