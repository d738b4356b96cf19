-- Per role and hour: AssumeRole count, distinct callers, distinct source IPs and error ratio,
-- each with the role's own trailing baseline (median and quartiles over its active hours in
-- the last $lookback_days days). Every hour is returned; the detector's postprocess step
-- scores them (robust score with a floor, and an IsolationForest) and keeps the anomalous ones.
with calls as (
    select *
    from assume_role_calls
    where role_arn is not null
      and eventtime >= $baseline_start
),

hourly as (
    select
        role_arn,
        date_trunc('hour', eventtime) as hour,
        min(role_account) as account_id,
        -- successful assumes only: a burst of denied ones is access_denied_cluster's incident
        count(case when error_code is null then 1 end) as assumes,
        count(distinct case when error_code is null then coalesce(caller_arn, caller_account) end) as callers,
        count(distinct case when error_code is null then source_ip end) as source_ips,
        avg(cast(case when error_code is null then 0 else 1 end as double)) as error_ratio,
        -- the hour's last call names the caller shown in the alert
        max_by(caller_account, eventtime) as caller_account,
        max_by(caller_arn, eventtime) as caller_arn,
        max_by(source_ip, eventtime) as source_ip,
        max_by(role_session_name, eventtime) as session_name,
        max_by(source_identity, eventtime) as source_identity,
        max_by(user_agent, eventtime) as user_agent,
        min(eventtime) as first_seen,
        max(eventtime) as last_seen,
        list(eventid order by eventtime, eventid) filter (where error_code is null) as event_ids
    from calls
    group by role_arn, date_trunc('hour', eventtime)
),

baselined as (
    select
        *,
        count(*) over w as base_hours,
        median(assumes) over w as base_assumes_median,
        quantile_cont(assumes, 0.75) over w - quantile_cont(assumes, 0.25) over w as base_assumes_iqr,
        max(assumes) over w as base_assumes_max,
        median(callers) over w as base_callers_median,
        max(callers) over w as base_callers_max,
        quantile_cont(callers, 0.75) over w - quantile_cont(callers, 0.25) over w as base_callers_iqr,
        median(source_ips) over w as base_ips_median,
        max(source_ips) over w as base_ips_max,
        quantile_cont(source_ips, 0.75) over w - quantile_cont(source_ips, 0.25) over w as base_ips_iqr,
        median(error_ratio) over w as base_error_median,
        quantile_cont(error_ratio, 0.75) over w - quantile_cont(error_ratio, 0.25) over w as base_error_iqr
    from hourly
    window w as (
        partition by role_arn order by hour
        range between interval ($lookback_days) day preceding and interval 1 hour preceding
    )
)

-- the columns after event_ids are the alert's details; `a__b` is key b of object a
select
    -- 'T' outside the format: an unquoted T is a pattern letter in Spark's date formats
    role_arn || '|' || strftime(hour, '%Y-%m-%d') || 'T' || strftime(hour, '%H') as dedup_key,
    'medium' as severity,
    'AssumeRole volume spike on ' || role_arn || ': ' || cast(assumes as varchar) || ' in the hour from '
        || strftime(hour, '%Y-%m-%d %H') || ':00' as title,
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
    assumes as event_count,
    event_ids,
    hour,
    hour >= date_trunc('hour', cast($window_start as timestamp)) as in_window,
    assumes as features__assumes,
    callers as features__callers,
    source_ips as features__source_ips,
    error_ratio as features__error_ratio,
    $lookback_days as baseline__window_days,
    'role_arn (with its account), active hours' as baseline__key,
    base_hours as baseline__hours,
    base_assumes_median as baseline__assumes__median,
    base_assumes_iqr as baseline__assumes__iqr,
    base_assumes_max as baseline__assumes__max,
    base_callers_median as baseline__callers__median,
    base_callers_iqr as baseline__callers__iqr,
    base_callers_max as baseline__callers__max,
    base_ips_median as baseline__source_ips__median,
    base_ips_iqr as baseline__source_ips__iqr,
    base_ips_max as baseline__source_ips__max,
    base_error_median as baseline__error_ratio__median,
    base_error_iqr as baseline__error_ratio__iqr
from baselined
