-- Every AssumeRole, AssumeRoleWithSAML and AssumeRoleWithWebIdentity record, successful or not,
-- flattened once. Both accounts' copies of a cross-account call appear (the role owner's copy
-- has caller_type 'AWSAccount'); assume_role_pairs joins them.
with source as (
    select *
    from cloudtrail_logs
    where eventsource = 'sts.amazonaws.com'
      and eventname in ('AssumeRole', 'AssumeRoleWithSAML', 'AssumeRoleWithWebIdentity')
),

extracted as (
    select
        eventid,
        eventtime,
        eventname,
        awsregion as aws_region,
        useridentity.type as caller_type,
        useridentity.arn as caller_arn,
        useridentity.accountid as caller_account,
        useridentity.accesskeyid as caller_access_key_id,
        useridentity.principalid as caller_principal_id,
        useridentity.username as caller_user_name,
        useridentity.invokedby as caller_invoked_by,
        useridentity.identityprovider as caller_identity_provider,
        useridentity.sessioncontext.sessionissuer.arn as caller_role_arn,
        useridentity.sessioncontext.sourceidentity as caller_source_identity,
        -- the role: request parameters, else the resources list, else a denied call's message
        -- (CloudTrail often omits requestParameters when the call is denied), else the session ARN
        replace(coalesce(
            json_extract_string(requestparameters, '$.roleArn'),
            case when resources[1].type = 'AWS::IAM::Role' then resources[1].arn end,
            nullif(regexp_extract(errormessage, 'on resource: (arn:aws[a-z-]*:iam::[0-9]{12}:role/[^ ]+)', 1), ''),
            -- arn:<partition>:sts::<account>:assumed-role/<name>/<session> -> the role's ARN, from
            -- three captures (a back-reference in a replacement is spelled differently on
            -- each engine)
            case
                when regexp_matches(
                    json_extract_string(responseelements, '$.assumedRoleUser.arn'),
                    '^arn:aws[a-z-]*:sts::[0-9]{12}:assumed-role/[^/]+/'
                )
                    then 'arn:'
                        || regexp_extract(json_extract_string(responseelements, '$.assumedRoleUser.arn'), '^arn:(aws[a-z-]*):', 1)
                        || ':iam::'
                        || regexp_extract(json_extract_string(responseelements, '$.assumedRoleUser.arn'), ':sts::([0-9]{12}):', 1)
                        || ':role/'
                        || regexp_extract(json_extract_string(responseelements, '$.assumedRoleUser.arn'), ':assumed-role/([^/]+)/', 1)
            end
        ), ' ', '') as role_arn_text,
        coalesce(
            json_extract_string(requestparameters, '$.roleSessionName'),
            nullif(regexp_extract(json_extract_string(responseelements, '$.assumedRoleUser.arn'), '/([^/]+)$', 1), '')
        ) as role_session_name,
        json_extract_string(requestparameters, '$.sourceIdentity') as requested_source_identity,
        json_extract_string(responseelements, '$.sourceIdentity') as issued_source_identity,
        json_extract(requestparameters, '$.tags') as session_tags,
        json_extract(requestparameters, '$.transitiveTagKeys') as transitive_tag_keys,
        try_cast(json_extract_string(requestparameters, '$.durationSeconds') as integer) as duration_seconds,
        sourceipaddress as source_ip,
        useragent as user_agent,
        errorcode as error_code,
        errormessage as error_message,
        sharedeventid as shared_event_id,
        json_extract_string(responseelements, '$.credentials.accessKeyId') as issued_access_key_id,
        json_extract_string(responseelements, '$.assumedRoleUser.arn') as assumed_role_session_arn,
        recipientaccountid as recipient_account_id,
        -- the session parameters a role's owner can require ([[roles]])
        json_extract_string(requestparameters, '$.externalId') as external_id,
        json_extract_string(requestparameters, '$.policy') is not null
            or coalesce(json_array_length(json_extract(requestparameters, '$.policyArns')), 0) > 0 as has_session_policy,
        json_extract_string(responseelements, '$.subjectFromWebIdentityToken') as web_identity_subject,
        json_extract_string(responseelements, '$.provider') as web_identity_provider,
        json_extract_string(responseelements, '$.subject') as saml_subject,
        json_extract_string(responseelements, '$.issuer') as saml_issuer
    from source
),

final as (
    select
        *,
        nullif(role_arn_text, '') as role_arn,
        -- regexp_extract gives '' for no match on DuckDB and Spark, NULL on Trino: nullif agrees
        nullif(regexp_extract(role_arn_text, '^arn:aws[a-z-]*:iam::([^:]+):role/', 1), '') as role_account,
        nullif(regexp_extract(role_arn_text, '/([^/]+)$', 1), '') as role_name,
        -- sourceIdentity is carried through a chain and cannot be changed
        coalesce(requested_source_identity, issued_source_identity, caller_source_identity) as source_identity,
        requested_source_identity is null
            and coalesce(issued_source_identity, caller_source_identity) is not null as source_identity_inherited,
        error_code is null as succeeded,
        caller_type = 'AWSAccount' as is_owner_copy,
        coalesce(
            caller_account <> nullif(regexp_extract(role_arn_text, '^arn:aws[a-z-]*:iam::([^:]+):role/', 1), ''),
            false
        ) as is_cross_account,
        caller_type = 'AssumedRole' as is_role_chain
    from extracted
)

-- every column by name: `* exclude` is DuckDB's alone
select
    eventid, eventtime, eventname, aws_region, caller_type, caller_arn, caller_account, caller_access_key_id,
    caller_principal_id, caller_user_name, caller_invoked_by, caller_identity_provider, caller_role_arn,
    caller_source_identity, role_session_name, requested_source_identity, issued_source_identity,
    session_tags, transitive_tag_keys, duration_seconds, source_ip, user_agent, error_code, error_message,
    shared_event_id, issued_access_key_id, assumed_role_session_arn, recipient_account_id, role_arn,
    role_account, role_name, source_identity, source_identity_inherited, succeeded, is_owner_copy,
    is_cross_account, is_role_chain, external_id, has_session_policy, web_identity_subject,
    web_identity_provider, saml_subject, saml_issuer
from final
