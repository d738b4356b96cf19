-- A new trust policy version (CreateRole, UpdateAssumeRolePolicy) that lets more principals in:
-- a wildcard principal with no condition that narrows it; an account outside the organization
-- without sts:ExternalId; or, against the role's previous version, a narrowing condition key
-- dropped or a principal in another account added. A weakness the previous version already had
-- is not new. The postprocess step quotes the statements and adds the before/after diff.
with versions as (
    select *
    from trust_policy_versions
    where eventtime >= $window_start
),

statements as (
    select s.*
    from trust_policy_statements as s
    where s.version_id in (select version_id from versions)
       or s.version_id in (select previous_version_id from versions)
),

-- without [organization] accounts, the accounts whose records are in the trail are the organization
trail_accounts as (
    select distinct recipientaccountid as account_id
    from cloudtrail_logs
    where recipientaccountid is not null
),

weaknesses as (
    select
        s.version_id,
        case
            when s.is_wildcard then 'wildcard_principal'
            else 'external_account_without_external_id'
        end as rule,
        s.principal,
        s.statement_no,
        s.conditions is null as unconditional
    from statements as s
    left join trail_accounts as t
        on s.principal_account = t.account_id
    where (
        s.is_wildcard
        and not list_has_any(s.condition_keys, [
            'aws:principalorgid', 'aws:principalorgpaths', 'aws:principalaccount', 'aws:principalarn',
            'aws:sourceaccount', 'aws:sourcearn', 'sts:externalid'
        ])
    )
    or (
        not s.is_wildcard
        and s.principal_account is not null
        and s.principal_account <> s.role_account
        and not list_contains($organization_accounts, s.principal_account)
        and (array_length($organization_accounts) > 0 or t.account_id is null)
        and not list_contains(s.condition_keys, 'sts:externalid')
    )
),

-- the weaknesses of each new version that its previous version did not already have
new_weaknesses as (
    select
        w.*,
        v.role_account
    from weaknesses as w
    inner join versions as v
        on w.version_id = v.version_id
    where not exists (
        select 1
        from weaknesses as p
        where p.version_id = v.previous_version_id
          and p.rule = w.rule
          and p.principal = w.principal
    )
),

version_keys as (
    select distinct
        version_id,
        unnest(condition_keys) as condition_key
    from statements
),

dropped as (
    select
        v.version_id,
        'condition_dropped' as rule,
        k.condition_key as principal,
        -1 as statement_no,
        false as unconditional
    from versions as v
    inner join version_keys as k
        on k.version_id = v.previous_version_id
    where k.condition_key in (
        'sts:externalid', 'sts:sourceidentity', 'aws:principalorgid', 'aws:sourceaccount', 'aws:sourcearn'
    )
      and not exists (
          select 1
          from version_keys as c
          where c.version_id = v.version_id
            and c.condition_key = k.condition_key
      )
),

added as (
    select
        v.version_id,
        'principal_added' as rule,
        s.principal,
        s.statement_no,
        false as unconditional
    from versions as v
    inner join statements as s
        on s.version_id = v.version_id
    where v.previous_version_id is not null
      and s.principal_account is not null
      and s.principal_account <> v.role_account
      and not exists (
          select 1
          from statements as p
          where p.version_id = v.previous_version_id
            and p.principal_account = s.principal_account
      )
),

findings as (
    select version_id, rule, principal, statement_no, unconditional
    from new_weaknesses

    union all

    select version_id, rule, principal, statement_no, unconditional
    from dropped

    union all

    select version_id, rule, principal, statement_no, unconditional
    from added
),

grouped as (
    select
        version_id,
        bool_or(rule = 'wildcard_principal' and unconditional) as critical,
        list(distinct rule) as rules,
        -- "<rule> <statement number> <principal>": the principal last, as it may hold spaces
        list(distinct rule || ' ' || cast(statement_no as varchar) || ' ' || principal) as found
    from findings
    group by version_id
)

-- the columns after event_ids are the alert's details; the postprocess step adds the diff
select
    v.role_arn || '|' || v.version_id as dedup_key,
    case when g.critical then 'critical' else 'high' end as severity,
    'Trust policy of ' || v.role_arn || ' weakened' as title,
    v.role_arn,
    v.role_account as account_id,
    v.changed_by_account as caller_account,
    v.changed_by as caller_arn,
    v.source_ip,
    cast(null as varchar) as session_name,
    cast(null as varchar) as source_identity,
    v.user_agent,
    v.eventtime as first_seen,
    v.eventtime as last_seen,
    cast(1 as bigint) as event_count,
    [v.version_id] as event_ids,
    v.eventname as change,
    g.rules,
    g.found as findings,
    v.previous_version_id,
    v.previous_document as before,
    v.document as after
from grouped as g
inner join versions as v
    on g.version_id = v.version_id
