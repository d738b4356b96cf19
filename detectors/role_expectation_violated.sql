-- A successful assume of a role matched by a [[roles]] entry that breaks one of its expectations
-- (session policy, duration, caller account, external id, session tag values, OIDC subject; the
-- source identity is named too, and alone is missing_source_identity's), one finding per role,
-- caller and day; and the confused-deputy probe: a caller outside the organization passing more
-- than one distinct sts:ExternalId for one role within a day.
with rules as (
    select unnest(cast($role_rules as varchar[])) as rule
),

expectations as (
    select
        cast(json_extract_string(rule, '$.role_no') as integer) as role_no,
        json_extract_string(rule, '$.arn_glob') as arn_glob,
        json_extract_string(rule, '$.role_pattern') as role_pattern,
        json_extract_string(rule, '$.source_identity') as source_identity_pattern,
        json_extract_string(rule, '$.session_policy') = 'true' as session_policy_required,
        cast(json_extract_string(rule, '$.max_duration_seconds') as integer) as max_duration_seconds,
        json_extract_string(rule, '$.caller_accounts') as caller_pattern,
        json_extract_string(rule, '$.external_id') = 'true' as external_id_required,
        json_extract_string(rule, '$.subjects') as subject_pattern
    from rules
),

tag_rule_texts as (
    select unnest(cast($tag_rules as varchar[])) as rule
),

tag_rules as (
    select
        cast(json_extract_string(rule, '$.role_no') as integer) as role_no,
        json_extract_string(rule, '$.key') as tag_key,
        json_extract_string(rule, '$.allowed') as allowed
    from tag_rule_texts
),

calls as (
    select *
    from assume_role_calls
    where role_arn is not null
      and eventtime >= $baseline_start
),

matched as (
    select
        c.*,
        e.*
    from calls as c
    inner join expectations as e
        on regexp_matches(c.role_arn, e.role_pattern)
    where c.succeeded
      and c.eventtime >= $window_start
),

tagged as (
    select
        eventid,
        role_no,
        session_tags
    from matched
    where coalesce(json_array_length(session_tags), 0) > 0
),

tags as (
    select
        t.eventid,
        t.role_no,
        lower(json_extract_string(t.session_tags, '$[' || i.tag_no || '].key')) as tag_key,
        json_extract_string(t.session_tags, '$[' || i.tag_no || '].value') as tag_value
    from tagged as t
    cross join unnest(generate_series(0, cast(json_array_length(t.session_tags) as bigint) - 1)) as i(tag_no)
),

tag_breaks as (
    select
        t.eventid,
        t.role_no,
        t.tag_key || '=' || coalesce(t.tag_value, '') as tag
    from tags as t
    inner join tag_rules as r
        on t.role_no = r.role_no
       and t.tag_key = r.tag_key
    where not regexp_matches(coalesce(t.tag_value, ''), r.allowed)
),

evaluated as (
    select
        m.*,
        coalesce(m.caller_arn, m.caller_account, m.web_identity_subject, m.saml_subject, '?') as caller,
        m.source_identity_pattern <> ''
            and not regexp_matches(coalesce(m.source_identity, ''), m.source_identity_pattern)
            as broke_source_identity,
        m.session_policy_required and not m.has_session_policy as broke_session_policy,
        -- AssumeRole's default duration is one hour when the caller passes none
        m.max_duration_seconds > 0 and coalesce(m.duration_seconds, 3600) > m.max_duration_seconds
            as broke_duration,
        m.caller_pattern <> '' and m.eventname = 'AssumeRole'
            and not regexp_matches(coalesce(m.caller_account, ''), m.caller_pattern) as broke_caller,
        m.external_id_required and coalesce(m.external_id, '') = '' as broke_external_id,
        m.subject_pattern <> '' and m.eventname = 'AssumeRoleWithWebIdentity'
            and not regexp_matches(coalesce(m.web_identity_subject, ''), m.subject_pattern) as broke_subject,
        exists (
            select 1
            from tag_breaks as b
            where b.eventid = m.eventid
              and b.role_no = m.role_no
        ) as broke_tags
    from matched as m
),

violations as (
    select *
    from evaluated
    where broke_session_policy or broke_duration or broke_caller or broke_external_id
       or broke_subject or broke_tags
),

violation_tags as (
    select
        v.role_arn,
        v.caller,
        date_trunc('day', v.eventtime) as day,
        list(distinct b.tag) as tags
    from violations as v
    inner join tag_breaks as b
        on v.eventid = b.eventid
       and v.role_no = b.role_no
    group by v.role_arn, v.caller, date_trunc('day', v.eventtime)
),

by_caller as (
    select
        role_arn,
        caller,
        date_trunc('day', eventtime) as day,
        min_by(role_account, eventtime) as account_id,
        min_by(caller_account, eventtime) as caller_account,
        min_by(caller_arn, eventtime) as caller_arn,
        min_by(source_ip, eventtime) as source_ip,
        min_by(role_session_name, eventtime) as session_name,
        min_by(source_identity, eventtime) as source_identity,
        min_by(user_agent, eventtime) as user_agent,
        min(eventtime) as first_seen,
        max(eventtime) as last_seen,
        count(distinct eventid) as event_count,
        list(distinct eventid) as event_ids,
        list(distinct arn_glob) as expectations,
        bool_or(broke_source_identity) as broke_source_identity,
        bool_or(broke_session_policy) as broke_session_policy,
        bool_or(broke_duration) as broke_duration,
        bool_or(broke_caller) as broke_caller,
        bool_or(broke_external_id) as broke_external_id,
        bool_or(broke_subject) as broke_subject,
        bool_or(broke_tags) as broke_tags,
        max(coalesce(duration_seconds, 3600)) as longest_duration,
        min(nullif(max_duration_seconds, 0)) as max_duration_seconds,
        list(distinct web_identity_subject) as subjects
    from violations
    group by role_arn, caller, date_trunc('day', eventtime)
),

-- without [organization] accounts, the accounts whose records are in the trail are the organization
organization as (
    select unnest(cast($organization_accounts as varchar[])) as account_id

    union

    select distinct recipientaccountid as account_id
    from cloudtrail_logs
    where len(cast($organization_accounts as varchar[])) = 0
      and recipientaccountid is not null
),

third_party as (
    select c.*
    from calls as c
    left join organization as o
        on c.caller_account = o.account_id
    where c.is_cross_account
      and o.account_id is null
      and coalesce(c.external_id, '') <> ''
),

probes as (
    select
        role_arn,
        caller_account,
        min_by(role_account, eventtime) as account_id,
        min_by(caller_arn, eventtime) as caller_arn,
        min_by(source_ip, eventtime) as source_ip,
        min_by(role_session_name, eventtime) as session_name,
        min_by(source_identity, eventtime) as source_identity,
        min_by(user_agent, eventtime) as user_agent,
        min(eventtime) as first_seen,
        max(eventtime) as last_seen,
        count(distinct eventid) as event_count,
        list(distinct eventid) as event_ids,
        count(distinct external_id) as distinct_external_ids,
        list(distinct external_id) as external_ids,
        count(*) filter (where not succeeded) as failed
    from third_party
    group by role_arn, caller_account
    having count(distinct external_id) > 1
       and max(eventtime) >= $window_start
)

select
    'expectation|' || role_arn || '|' || caller || '|' || strftime(day, '%Y-%m-%d') as dedup_key,
    'high' as severity,
    'Assume of ' || role_arn || ' breaks its [[roles]] expectations' as title,
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
    event_count,
    event_ids,
    to_json({
        'kind': 'expectation',
        'expectations': b.expectations,
        'broke': {
            'source_identity': broke_source_identity,
            'session_policy': broke_session_policy,
            'max_duration_seconds': broke_duration,
            'caller_accounts': broke_caller,
            'external_id': broke_external_id,
            'session_tags': broke_tags,
            'web_identity_subjects': broke_subject
        },
        'longest_duration_seconds': longest_duration,
        'max_duration_seconds': b.max_duration_seconds,
        'tags_outside_allowed': t.tags,
        'subjects': subjects
    }) as details
from by_caller as b
left join violation_tags as t
    using (role_arn, caller, day)

union all

select
    'external_id_probe|' || role_arn || '|' || caller_account || '|' || strftime(last_seen, '%Y-%m-%d')
        as dedup_key,
    'high' as severity,
    'Account ' || caller_account || ' passed ' || distinct_external_ids || ' different external ids for '
        || role_arn as title,
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
    event_count,
    event_ids,
    to_json({
        'kind': 'external_id_probe',
        'distinct_external_ids': distinct_external_ids,
        'external_ids': external_ids,
        'failed_assumes': failed,
        'window_days': $lookback_days
    }) as details
from probes
