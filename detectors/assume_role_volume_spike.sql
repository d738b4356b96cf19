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
        any_value(role_account) as account_id,
        count(*) as assumes,
        count(distinct coalesce(caller_arn, caller_account)) as callers,
        count(distinct source_ip) as source_ips,
        avg(case when error_code is null then 0.0 else 1.0 end) as error_ratio,
        arg_max(caller_account, eventtime) as caller_account,
        arg_max(caller_arn, eventtime) as caller_arn,
        mode(source_ip) as source_ip,
        mode(role_session_name) as session_name,
        mode(source_identity) as source_identity,
        mode(user_agent) as user_agent,
        min(eventtime) as first_seen,
        max(eventtime) as last_seen,
        list(eventid order by eventtime)[1:200] as event_ids
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
        range between to_days($lookback_days) preceding and interval 1 hour preceding
    )
)

select
    role_arn || '|' || strftime(hour, '%Y-%m-%dT%H') as dedup_key,
    'medium' as severity,
    'AssumeRole volume spike on ' || role_arn || ': ' || assumes || ' in the hour from '
        || strftime(hour, '%Y-%m-%d %H:00') as title,
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
    to_json({
        'hour': hour,
        'in_window': hour >= date_trunc('hour', $window_start::timestamp),
        'features': {
            'assumes': assumes, 'callers': callers, 'source_ips': source_ips, 'error_ratio': error_ratio
        },
        'baseline': {
            'window_days': $lookback_days, 'key': 'role_arn (with its account), active hours',
            'hours': base_hours,
            'assumes': {'median': base_assumes_median, 'iqr': base_assumes_iqr, 'max': base_assumes_max},
            'callers': {'median': base_callers_median, 'iqr': base_callers_iqr, 'max': base_callers_max},
            'source_ips': {'median': base_ips_median, 'iqr': base_ips_iqr, 'max': base_ips_max},
            'error_ratio': {'median': base_error_median, 'iqr': base_error_iqr}
        }
    }) as details
from baselined
