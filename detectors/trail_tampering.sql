-- CloudTrail switched off or narrowed, or the trail's bucket stripped of its policy or given a
-- lifecycle that deletes logs: what an intruder does first so that the rest goes unseen.
-- Only calls that succeeded (a denied attempt changes nothing).
with calls as (
    select
        eventid,
        eventtime,
        eventname,
        recipientaccountid as account_id,
        awsregion as aws_region,
        useridentity.accountid as caller_account,
        useridentity.arn as caller_arn,
        useridentity.sessioncontext.sessionissuer.arn as caller_role_arn,
        useridentity.sessioncontext.sourceidentity as source_identity,
        sourceipaddress as source_ip,
        useragent as user_agent,
        requestparameters,
        -- selectors are lists: matched in the JSON text, which every engine can do
        coalesce(cast(requestparameters as varchar), '') as params_text,
        coalesce(
            json_extract_string(requestparameters, '$.name'),
            json_extract_string(requestparameters, '$.trailName')
        ) as trail,
        json_extract_string(requestparameters, '$.bucketName') as bucket_name
    from cloudtrail_logs
    where eventtime >= $window_start
      and errorcode is null
      and (
          (
              eventsource = 'cloudtrail.amazonaws.com'
              and eventname in (
                  'StopLogging', 'DeleteTrail', 'UpdateTrail', 'PutEventSelectors', 'PutInsightSelectors'
              )
          )
          or (eventsource = 's3.amazonaws.com' and eventname in ('DeleteBucketPolicy', 'PutBucketLifecycle'))
      )
),

-- what each call takes away from the trail's coverage; empty when it takes nothing away
classified as (
    select
        *,
        case
            when eventname = 'StopLogging' then 'logging stopped'
            when eventname = 'DeleteTrail' then 'trail deleted'
            when eventname = 'UpdateTrail' then concat_ws(
                ', ',
                case when json_extract_string(requestparameters, '$.isMultiRegionTrail') = 'false'
                    then 'multi-region logging turned off' end,
                case when json_extract_string(requestparameters, '$.enableLogFileValidation') = 'false'
                    then 'log file validation turned off' end,
                case when json_extract_string(requestparameters, '$.includeGlobalServiceEvents') = 'false'
                    then 'global service events excluded' end,
                case when json_extract_string(requestparameters, '$.isOrganizationTrail') = 'false'
                    then 'no longer an organization trail' end,
                case when json_extract_string(requestparameters, '$.s3BucketName') is not null
                    then 'logs sent to bucket ' || json_extract_string(requestparameters, '$.s3BucketName') end,
                case when json_extract_string(requestparameters, '$.s3KeyPrefix') is not null
                    then 'log key prefix changed' end,
                case when json_extract_string(requestparameters, '$.kmsKeyId') = ''
                    then 'log encryption removed' end
            )
            when eventname = 'PutEventSelectors' then concat_ws(
                ', ',
                case when regexp_matches(params_text, '"includeManagementEvents"\s*:\s*false')
                    then 'management events excluded' end,
                case when regexp_matches(params_text, '"readWriteType"\s*:\s*"(ReadOnly|WriteOnly)"')
                    then 'only read-only or write-only events' end,
                case when regexp_matches(params_text, '"excludeManagementEventSources"\s*:\s*\[\s*"')
                    then 'management event sources excluded' end,
                case when regexp_matches(params_text, '"eventSelectors"\s*:\s*\[\s*\]')
                    then 'every event selector removed' end,
                case when regexp_matches(params_text, '"advancedEventSelectors"')
                    and not regexp_matches(params_text, '"Management"')
                    then 'advanced selectors without management events' end,
                case when regexp_matches(params_text, '"field"\s*:\s*"readOnly"')
                    then 'advanced selectors keep only read-only or write-only events' end
            )
            when eventname = 'PutInsightSelectors'
                and regexp_matches(params_text, '"insightSelectors"\s*:\s*\[\s*\]')
                then 'Insights turned off'
            when eventname = 'DeleteBucketPolicy' and list_contains($trail_buckets, bucket_name)
                then 'trail bucket policy deleted'
            when eventname = 'PutBucketLifecycle' and list_contains($trail_buckets, bucket_name)
                then 'lifecycle rule put on the trail bucket'
            else ''
        end as reduction
    from calls
)

-- the columns after event_ids are the alert's details
select
    account_id || '|' || eventid as dedup_key,
    case when eventname in ('StopLogging', 'DeleteTrail') then 'critical' else 'high' end as severity,
    eventname || ' in ' || account_id || ': ' || reduction
        || coalesce(' (' || coalesce(trail, bucket_name) || ')', '') as title,
    caller_role_arn as role_arn,
    account_id,
    caller_account,
    caller_arn,
    source_ip,
    nullif(regexp_extract(caller_arn, ':assumed-role/[^/]+/(.+)$', 1), '') as session_name,
    source_identity,
    user_agent,
    eventtime as first_seen,
    eventtime as last_seen,
    cast(1 as bigint) as event_count,
    [eventid] as event_ids,
    eventname as event_name,
    reduction,
    trail,
    bucket_name as bucket,
    aws_region as region
from classified
where reduction <> ''
