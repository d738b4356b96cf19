-- A stream (account and region) whose log files stop for longer than it has been quiet at any
-- time in the $lookback_days days before (times $factor, and at least $min_gap_minutes): a
-- trail stopped, deleted or pointed elsewhere shows here even when its StopLogging record
-- never arrives. Read from the ingest manifest's key names (the minute CloudTrail wrote each
-- file), so it runs on the DuckDB store. Each gap is one alert, keyed by its last file.
with files as (
    select
        uri,
        regexp_extract(uri, '/([0-9]{12})/CloudTrail/([a-z0-9-]+)/[0-9]{4}/[0-9]{2}/[0-9]{2}/[0-9]{12}_CloudTrail_', 1)
            as account_id,
        regexp_extract(uri, '/([0-9]{12})/CloudTrail/([a-z0-9-]+)/[0-9]{4}/[0-9]{2}/[0-9]{2}/[0-9]{12}_CloudTrail_', 2)
            as aws_region,
        regexp_extract(uri, '_CloudTrail_[a-z0-9-]+_([0-9]{8}T[0-9]{4})Z_[^/]*$', 1) as stamp
    from ingest_manifest
    where regexp_matches(uri, '/[0-9]{12}/CloudTrail/[a-z0-9-]+/[0-9]{4}/[0-9]{2}/[0-9]{2}/[0-9]{12}_CloudTrail_[a-z0-9-]+_[0-9]{8}T[0-9]{4}Z_')
),

-- a key anyone can write to the bucket may carry an impossible time: it becomes null, not an error
timed as (
    select
        uri,
        account_id,
        aws_region,
        try_cast(
            substr(stamp, 1, 4) || '-' || substr(stamp, 5, 2) || '-' || substr(stamp, 7, 2) || ' '
            || substr(stamp, 10, 2) || ':' || substr(stamp, 12, 2) || ':00' as timestamp
        ) as file_time
    from files
),

recent as (
    select *
    from timed
    where file_time >= $baseline_start
),

-- the newest file of any stream: a stream silent since long before it is in an open gap
data_end as (
    select max(file_time) as newest
    from recent
),

gaps as (
    select
        r.account_id,
        r.aws_region,
        r.uri as last_uri,
        r.file_time as gap_start,
        lead(r.uri) over (partition by r.account_id, r.aws_region order by r.file_time, r.uri) as next_uri,
        coalesce(
            lead(r.file_time) over (partition by r.account_id, r.aws_region order by r.file_time, r.uri),
            d.newest
        ) as gap_end,
        min(r.file_time) over (partition by r.account_id, r.aws_region) as stream_first
    from recent as r
    cross join data_end as d
),

measured as (
    select
        *,
        next_uri is null as is_open,
        date_diff('minute', gap_start, gap_end) as gap_minutes
    from gaps
),

-- only long gaps ending in the new data are judged, and only with enough history before them
-- (a file's key time can be a little before the events in it, hence the hour of margin)
candidates as (
    select *
    from measured
    where gap_minutes > $min_gap_minutes
      and gap_end >= $window_start - interval '1' hour
      and stream_first <= gap_start - interval ($min_history_days) day
),

-- the longest the stream was quiet in the baseline before each candidate
history as (
    select
        c.account_id,
        c.aws_region,
        c.gap_start,
        max(h.gap_minutes) as usual_longest,
        count(*) as files_before
    from candidates as c
    inner join measured as h
        on h.account_id = c.account_id
       and h.aws_region = c.aws_region
       and h.gap_start >= c.gap_start - interval ($lookback_days) day
       and h.gap_end <= c.gap_start
       and not h.is_open
    group by c.account_id, c.aws_region, c.gap_start
),

judged as (
    select
        c.*,
        h.usual_longest,
        h.files_before,
        greatest($min_gap_minutes, $factor * h.usual_longest) as threshold_minutes
    from candidates as c
    inner join history as h
        on h.account_id = c.account_id
       and h.aws_region = c.aws_region
       and h.gap_start = c.gap_start
)

-- the columns after event_ids are the alert's details; `a__b` is key b of object a
select
    -- 'T' outside the format: an unquoted T is a pattern letter in Spark's date formats
    account_id || '|' || aws_region || '|' || strftime(gap_start, '%Y-%m-%d') || 'T'
        || strftime(gap_start, '%H:%M') as dedup_key,
    'high' as severity,
    'No CloudTrail log files from ' || account_id || ' ' || aws_region || ' for '
        || cast(round(cast(gap_minutes as double) / 60, 1) as varchar) || ' hours'
        || case when is_open then ' (still none)' else '' end
        || ', usually at most ' || cast(round(cast(usual_longest as double) / 60, 1) as varchar) || ' hours'
        as title,
    cast(null as varchar) as role_arn,
    account_id,
    cast(null as varchar) as caller_account,
    cast(null as varchar) as caller_arn,
    cast(null as varchar) as source_ip,
    cast(null as varchar) as session_name,
    cast(null as varchar) as source_identity,
    cast(null as varchar) as user_agent,
    gap_start as first_seen,
    gap_end as last_seen,
    cast(0 as bigint) as event_count,
    cast([] as varchar[]) as event_ids,
    aws_region as region,
    gap_minutes,
    is_open as still_open,
    usual_longest as usual_longest_gap_minutes,
    threshold_minutes,
    files_before as files_in_baseline,
    last_uri as last_file,
    next_uri as next_file,
    $lookback_days as baseline__window_days,
    'account, region' as baseline__key,
    $factor as baseline__factor,
    $min_gap_minutes as baseline__floor_minutes,
    $min_history_days as baseline__history_required_days
from judged
where gap_minutes > threshold_minutes
