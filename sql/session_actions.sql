-- What each role session did: calls made with its access key, per event name.
with calls as (
    select
        useridentity.accesskeyid as access_key_id,
        useridentity.arn as session_arn,
        eventsource,
        eventname,
        eventtime,
        errorcode,
        recipientaccountid
    from cloudtrail_logs
    where useridentity.type = 'AssumedRole'
      and useridentity.accesskeyid is not null
)

select
    access_key_id,
    -- one session, one ARN: min() is any value, and the same on every engine
    min(session_arn) as session_arn,
    eventsource,
    eventname,
    count(*) as calls,
    count(errorcode) as errors,
    min(eventtime) as first_seen,
    max(eventtime) as last_seen,
    count(distinct recipientaccountid) as accounts
from calls
group by access_key_id, eventsource, eventname
