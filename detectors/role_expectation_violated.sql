-- A successful assume of a role matched by a [[roles]] entry that breaks one of its expectations
-- (session policy, duration, caller account, external id, session tag values, OIDC subject; the
-- source identity is named too, and alone is missing_source_identity's), one finding per role,
-- caller and day; and the confused-deputy probe: a caller outside the organization passing more
-- than one distinct sts:ExternalId for one role within a day.
-- The [[roles]] entries reach the query as the tables role_expectations (one row per entry:
-- regexes compiled from its globs, '' when it has none; flags 'true'/'false') and role_tag_rules.
with expectations as (
    select
        cast(role_no as integer) as role_no,
        arn_glob,
        role_pattern,
        source_identity_pattern,
        session_policy = 'true' as session_policy_required,
        cast(max_duration_seconds as integer) as max_duration_seconds,
        caller_pattern,
        external_id = 'true' as external_id_required,
        subject_pattern
    from role_expectations
),

tag_rules as (
    select
        cast(role_no as integer) as role_no,
        tag_key,
        allowed_pattern as allowed
    from role_tag_rules
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
        list(distinct b.tag) filter (where b.tag is not null) as tags
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
        list(eventid order by eventtime, eventid) as event_ids,
        list(distinct arn_glob) filter (where arn_glob is not null) as expectations,
        bool_or(broke_source_identity) as broke_source_identity,
        bool_or(broke_session_policy) as broke_session_policy,
        bool_or(broke_duration) as broke_duration,
        bool_or(broke_caller) as broke_caller,
        bool_or(broke_external_id) as broke_external_id,
        bool_or(broke_subject) as broke_subject,
        bool_or(broke_tags) as broke_tags,
        max(coalesce(duration_seconds, 3600)) as longest_duration,
        min(nullif(max_duration_seconds, 0)) as max_duration_seconds,
        list(distinct web_identity_subject) filter (where web_identity_subject is not null) as subjects
    from violations
    group by role_arn, caller, date_trunc('day', eventtime)
),

-- without [organization] accounts, the accounts whose records are in the trail are the organization
trail_accounts as (
    select distinct recipientaccountid as account_id
    from cloudtrail_logs
    where recipientaccountid is not null
),

third_party as (
    select c.*
    from calls as c
    left join trail_accounts as t
        on c.caller_account = t.account_id
    where c.is_cross_account
      and coalesce(c.external_id, '') <> ''
      and not list_contains($organization_accounts, c.caller_account)
      and (array_length($organization_accounts) > 0 or t.account_id is null)
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
        list(eventid order by eventtime, eventid) as event_ids,
        count(distinct external_id) as distinct_external_ids,
        list(distinct external_id) filter (where external_id is not null) as external_ids,
        count(case when not succeeded then 1 end) as failed
    from third_party
    group by role_arn, caller_account
    having count(distinct external_id) > 1
       and max(eventtime) >= $window_start
)

-- the columns after event_ids are the alert's details; `a__b` is key b of object a
select
    'expectation|' || b.role_arn || '|' || b.caller || '|' || strftime(b.day, '%Y-%m-%d') as dedup_key,
    'high' as severity,
    'Assume of ' || b.role_arn || ' breaks its [[roles]] expectations' as title,
    b.role_arn,
    b.account_id,
    b.caller_account,
    b.caller_arn,
    b.source_ip,
    b.session_name,
    b.source_identity,
    b.user_agent,
    b.first_seen,
    b.last_seen,
    b.event_count,
    b.event_ids,
    'expectation' as kind,
    b.expectations,
    b.broke_source_identity as broke__source_identity,
    b.broke_session_policy as broke__session_policy,
    b.broke_duration as broke__max_duration_seconds,
    b.broke_caller as broke__caller_accounts,
    b.broke_external_id as broke__external_id,
    b.broke_tags as broke__session_tags,
    b.broke_subject as broke__web_identity_subjects,
    b.longest_duration as longest_duration_seconds,
    b.max_duration_seconds,
    t.tags as tags_outside_allowed,
    b.subjects,
    cast(null as bigint) as distinct_external_ids,
    cast(null as varchar[]) as external_ids,
    cast(null as bigint) as failed_assumes,
    cast(null as integer) as window_days
from by_caller as b
left join violation_tags as t
    on b.role_arn = t.role_arn
   and b.caller = t.caller
   and b.day = t.day

union all

select
    'external_id_probe|' || role_arn || '|' || caller_account || '|' || strftime(last_seen, '%Y-%m-%d')
        as dedup_key,
    'high' as severity,
    'Account ' || caller_account || ' passed ' || cast(distinct_external_ids as varchar)
        || ' different external ids for ' || role_arn as title,
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
    'external_id_probe' as kind,
    cast(null as varchar[]) as expectations,
    cast(null as boolean) as broke__source_identity,
    cast(null as boolean) as broke__session_policy,
    cast(null as boolean) as broke__max_duration_seconds,
    cast(null as boolean) as broke__caller_accounts,
    cast(null as boolean) as broke__external_id,
    cast(null as boolean) as broke__session_tags,
    cast(null as boolean) as broke__web_identity_subjects,
    cast(null as integer) as longest_duration_seconds,
    cast(null as integer) as max_duration_seconds,
    cast(null as varchar[]) as tags_outside_allowed,
    cast(null as varchar[]) as subjects,
    distinct_external_ids,
    external_ids,
    failed as failed_assumes,
    $lookback_days as window_days
from probes
