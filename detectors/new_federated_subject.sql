-- An AssumeRoleWithWebIdentity whose OIDC subject (GitHub Actions: repo:org/app:ref:...), or an
-- AssumeRoleWithSAML whose subject and issuer, were never seen for the role in the baseline
-- window, once the role has history. Roles whose [[roles]] entry lists web_identity_subjects
-- are role_expectation_violated's: their subjects are an expectation, not learned.
-- Those roles reach the query as the table role_subject_rules (role_pattern, a regex).
with calls as (
    select
        *,
        case
            when eventname = 'AssumeRoleWithWebIdentity' then web_identity_subject
            else saml_subject || ' @ ' || coalesce(saml_issuer, '?')
        end as subject_key
    from assume_role_calls
    where succeeded
      and role_arn is not null
      and eventname in ('AssumeRoleWithWebIdentity', 'AssumeRoleWithSAML')
      and eventtime >= $baseline_start
),

learned as (
    select c.*
    from calls as c
    where c.subject_key is not null
      and not exists (
          select 1
          from role_subject_rules as e
          where regexp_matches(c.role_arn, e.role_pattern)
      )
),

history as (
    select
        *,
        lag(eventtime) over (partition by role_arn, subject_key order by eventtime, eventid) as seen_before,
        count(*) over (
            partition by role_arn order by eventtime
            range between interval ($lookback_days) day preceding and current row
        ) - 1 as role_assumes_before,
        min(eventtime) over (partition by role_arn) as role_first_seen
    from learned
),

novel as (
    select *
    from history
    where eventtime >= $window_start
      and (seen_before is null or seen_before < eventtime - interval ($lookback_days) day)
      and role_assumes_before >= $min_history_assumes
      and role_first_seen <= eventtime - interval ($min_history_days) day
),

-- later uses of the new subject on its first day join the same alert
same_day as (
    select
        c.*,
        n.eventtime as subject_first_seen,
        n.role_assumes_before as history_assumes
    from learned as c
    inner join novel as n
        on c.role_arn = n.role_arn
       and c.subject_key = n.subject_key
       and c.eventtime >= n.eventtime
       and c.eventtime < n.eventtime + interval '1' day
)

-- the columns after event_ids are the alert's details; `a__b` is key b of object a
select
    role_arn || '|' || subject_key || '|' || strftime(subject_first_seen, '%Y-%m-%d') || 'T'
        || strftime(subject_first_seen, '%H:%M:%S') as dedup_key,
    'medium' as severity,
    'Never-seen federated subject ' || subject_key || ' for ' || role_arn as title,
    role_arn,
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
    min_by(eventname, eventtime) as federation,
    coalesce(min_by(web_identity_subject, eventtime), min_by(saml_subject, eventtime)) as subject,
    coalesce(min_by(web_identity_provider, eventtime), min_by(saml_issuer, eventtime)) as issuer,
    max(history_assumes) as role_assumes_in_baseline,
    $lookback_days as baseline__window_days,
    'role_arn, OIDC subject (SAML: subject and issuer)' as baseline__key,
    $min_history_assumes as baseline__min_history_assumes,
    $min_history_days as baseline__min_history_days
from same_day
group by role_arn, subject_key, subject_first_seen
