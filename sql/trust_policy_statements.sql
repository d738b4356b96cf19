-- Each Allow statement of each trust policy version, one row per principal: its kind (AWS,
-- Service, Federated, CanonicalUser, or '*' for `"Principal": "*"`), the value, the account it
-- resolves to (an account id, arn:aws:iam::ID:root and role/user ARNs all name one), the actions
-- and the condition keys (lowercase: IAM condition keys are case-insensitive) with the Condition
-- block itself (operators and values). Statement and principal lists may be one value or a list.
-- The document is read by roletrail_trust_principals (pipeline/trust_policy.py): the same
-- Python on DuckDB and Spark, where each engine's JSON functions would read it differently.
with principals as (
    select
        v.version_id,
        v.eventtime,
        v.role_arn,
        v.role_account,
        v.role_name,
        p.principal_entry
    from trust_policy_versions as v
    cross join unnest(roletrail_trust_principals(v.document)) as p(principal_entry)
)

select
    version_id,
    eventtime,
    role_arn,
    role_account,
    role_name,
    principal_entry.statement_no,
    principal_entry.sid,
    principal_entry.principal_kind,
    principal_entry.principal,
    principal_entry.principal_account,
    principal_entry.is_wildcard,
    principal_entry.actions,
    principal_entry.condition_keys,
    principal_entry.conditions,
    principal_entry.statement
from principals
