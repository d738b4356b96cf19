-- A cross-account assume from a source address outside [network] known_cidrs. AWS service
-- callers (sourceIPAddress is a service name, or "AWS Internal") are not addresses and are not
-- flagged; a malformed address (real records have them) is reported as such.
-- Without known_cidrs it learns instead: an address whose network (/24, /48) no successful
-- assume of the role came from in the last $lookback_days days, once the role has history.
-- Configured CIDRs take precedence: with them nothing is learned.
with calls as (
    select
        *,
        roletrail_ip_status(source_ip, $known_cidrs) as ip_status,
        roletrail_network(source_ip) as network
    from assume_role_calls
    where is_cross_account
      and eventtime >= case when array_length($known_cidrs) > 0 then $window_start else $baseline_start end
      and coalesce(caller_type, '') <> 'AWSService'
),

learned as (
    select
        *,
        max(case when succeeded then eventtime end) over (
            partition by role_arn, network order by eventtime, eventid
            rows between unbounded preceding and 1 preceding
        ) as network_last_seen,
        count(case when succeeded then 1 end) over (
            partition by role_arn order by eventtime
            range between interval ($lookback_days) day preceding and current row
        ) - case when succeeded then 1 else 0 end as role_assumes_before,
        min(eventtime) over (partition by role_arn) as role_first_seen
    from calls
    where array_length($known_cidrs) = 0
),

flagged as (
    select
        eventid, eventtime, role_arn, role_account, caller_account, caller_arn, source_ip,
        role_session_name, source_identity, user_agent, succeeded, network,
        ip_status as address_status
    from calls
    where array_length($known_cidrs) > 0
      and ip_status in ('unknown', 'malformed')

    union all

    select
        eventid, eventtime, role_arn, role_account, caller_account, caller_arn, source_ip,
        role_session_name, source_identity, user_agent, succeeded, network,
        case when ip_status = 'malformed' then 'malformed' else 'new_network' end as address_status
    from learned
    where eventtime >= $window_start
      and (
          ip_status = 'malformed'
          or (
              network is not null
              and (network_last_seen is null or network_last_seen < eventtime - interval ($lookback_days) day)
              and role_assumes_before >= $min_history_assumes
              and role_first_seen <= eventtime - interval ($min_history_days) day
          )
      )
),

grouped as (
    select
        role_arn,
        min(role_account) as account_id,
        caller_account,
        source_ip,
        address_status,
        min(network) as network,
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
    group by role_arn, caller_account, source_ip, address_status, date_trunc('day', eventtime)
)

-- the columns after event_ids are the alert's details
select
    coalesce(role_arn, '?') || '|' || coalesce(caller_account, '?') || '|' || source_ip || '|'
        || strftime(day, '%Y-%m-%d') as dedup_key,
    case when address_status = 'malformed' then 'low' else 'high' end as severity,
    case
        when address_status = 'malformed' then 'Cross-account assume of ' || coalesce(role_arn, '?')
            || ' with a malformed source address'
        when address_status = 'new_network' then 'Cross-account assume of ' || coalesce(role_arn, '?')
            || ' from ' || source_ip || ', a network (' || network || ') not seen for the role in '
            || cast($lookback_days as varchar) || ' days'
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
    address_status,
    $known_cidrs as known_cidrs,
    failed as failed_assumes,
    network,
    case when array_length($known_cidrs) = 0 then $lookback_days end as baseline__window_days,
    case when array_length($known_cidrs) = 0 then 'role_arn, source network (/24, /48) of successful assumes' end
        as baseline__key
from grouped
