-- Each Allow statement of each trust policy version, one row per principal: its kind (AWS,
-- Service, Federated, CanonicalUser, or '*' for `"Principal": "*"`), the value, the account it
-- resolves to (an account id, arn:aws:iam::ID:root and role/user ARNs all name one), the actions
-- and the condition keys (lowercase: IAM condition keys are case-insensitive) with the Condition
-- block itself (operators and values). Statement and principal lists may be one value or a list.
with versions as (
    select
        version_id,
        eventtime,
        role_arn,
        role_account,
        role_name,
        document
    from trust_policy_versions
),

statements as (
    select
        v.*,
        s.statement_no,
        case
            when json_type(v.document, '$.Statement') = 'ARRAY'
                then json_extract(v.document, '$.Statement[' || s.statement_no || ']')
            else json_extract(v.document, '$.Statement')
        end as statement
    from versions as v
    cross join unnest(
        generate_series(0, cast(greatest(coalesce(json_array_length(v.document, '$.Statement'), 0), 1) as bigint) - 1)
    ) as s(statement_no)
),

allowed as (
    select *
    from statements
    where lower(coalesce(json_extract_string(statement, '$.Effect'), '')) = 'allow'
),

kinds as (
    select
        a.*,
        k.principal_kind,
        json_extract(a.statement, '$.Principal.' || k.principal_kind) as principal_value
    from allowed as a
    cross join (values ('AWS'), ('Service'), ('Federated'), ('CanonicalUser')) as k(principal_kind)
    where json_type(a.statement, '$.Principal') = 'OBJECT'

    union all

    select
        a.*,
        '*' as principal_kind,
        json_extract(a.statement, '$.Principal') as principal_value
    from allowed as a
    where json_extract_string(a.statement, '$.Principal') = '*'
),

principals as (
    select
        k.*,
        case
            when json_type(k.principal_value) = 'ARRAY'
                then json_extract_string(k.principal_value, '$[' || p.principal_no || ']')
            else json_extract_string(k.principal_value, '$')
        end as principal
    from kinds as k
    cross join unnest(
        generate_series(0, cast(greatest(coalesce(json_array_length(k.principal_value), 0), 1) as bigint) - 1)
    ) as p(principal_no)
    where k.principal_value is not null
),

operators as (
    select
        version_id,
        statement_no,
        unnest(json_keys(statement, '$.Condition')) as operator,
        statement
    from allowed
    where json_type(statement, '$.Condition') = 'OBJECT'
),

condition_keys as (
    select
        version_id,
        statement_no,
        unnest(json_keys(statement, '$.Condition."' || operator || '"')) as condition_key
    from operators
),

statement_keys as (
    select
        version_id,
        statement_no,
        list(distinct lower(condition_key)) as condition_keys
    from condition_keys
    group by version_id, statement_no
)

select
    p.version_id,
    p.eventtime,
    p.role_arn,
    p.role_account,
    p.role_name,
    p.statement_no,
    json_extract_string(p.statement, '$.Sid') as sid,
    p.principal_kind,
    p.principal,
    coalesce(
        nullif(regexp_extract(p.principal, '^([0-9]{12})$', 1), ''),
        nullif(regexp_extract(p.principal, '^arn:aws[a-z-]*:(?:iam|sts)::([0-9]{12}):', 1), '')
    ) as principal_account,
    p.principal_kind = '*' or (p.principal_kind = 'AWS' and p.principal = '*') as is_wildcard,
    json_extract(p.statement, '$.Action') as actions,
    coalesce(k.condition_keys, []) as condition_keys,
    json_extract(p.statement, '$.Condition') as conditions,
    p.statement
from principals as p
left join statement_keys as k
    on p.version_id = k.version_id
   and p.statement_no = k.statement_no
where p.principal is not null
