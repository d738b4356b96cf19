-- Pass 1: split the batch's documents into records; keep each record's JSON text, its hash,
-- its shape and the few fields deduplication needs (one json_extract_string of five paths).
create or replace temp table _recs as
with recs as (
    select f, unnest(d."Records") as rec, unnest(range(len(d."Records"))) as idx
    from read_json($stream, format = 'newline_delimited', records = true, ignore_errors = true,
                   maximum_object_size = $max_line,
                   columns = {'f': 'INTEGER', 'd': 'STRUCT("Records" JSON[])'})
    where f is not null
),
parsed as (
    select f, idx, rec, hash(rec) as h,
        json_extract_string(rec, ['$.eventID', '$.eventTime', '$.recipientAccountId',
                                  '$.eventCategory', '$.eventName']) as k,
        -- the record's shape: which keys its checked objects and its struct and list columns
        -- have (an empty list: an empty object, or a value that is not one)
        hash(json_keys(rec, $paths)) as shape
    from recs
),
named as (
    select f, idx, rec, h, shape, k[1] as event_id, k[2] as event_time, k[3] as recipientaccountid,
        -- Insights records inside a Records document: skipped and counted, not events
        coalesce(k[4] = 'Insight' and k[5] is null, false) as insight
    from parsed
),
timed as (
    select *, try_cast(event_time as timestamptz)::timestamp as ts from named
),
judged as (
    select *,
        case
            when rec is null or left(rec, 1) <> '{' then 'not a JSON object'
            when insight then null
            when event_time is null then 'no eventTime'
            when ts is null then 'eventTime cannot be parsed'
        end as reason
    from timed
)
select f, idx, rec, h, shape, ts, event_time, recipientaccountid, insight, event_id is null as derived,
    -- a record without an event id gets one derived from its content
    -- (pipeline/ingest/eventid.py holds the expression, shared with lake build)
    coalesce(event_id, {derived_id}) as eventid,
    reason,
    reason is null and not insight as keep,
    -- the typed columns cannot reproduce a missing event id or a time in another format
    event_id is null or event_time <> strftime(ts, '%Y-%m-%dT%H:%M:%SZ') as needs_raw
from judged
