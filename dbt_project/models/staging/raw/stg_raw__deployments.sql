with

source as (

    select * from {{ source('raw', 'deployments') }}

),

renamed as (

    -- pr_ids is left out: the loader splits it into raw.deployment_pull_requests
    select
        deployment_id,
        team_id,
        service,
        lower(trim(environment)) as environment,
        started_at,
        finished_at,
        lower(trim(status)) as status,
        is_rollback,
        manual_interventions

    from source

),

flagged as (

    select
        *,
        -- only production reaches customers
        environment = 'production' as is_production,
        -- an attempt to change production: a rollback only undoes an earlier attempt, so it is no attempt
        environment = 'production' and not is_rollback as is_production_attempt

    from renamed

),

final as (

    select
        *,
        is_production_attempt and status = 'succeeded' as is_production_success,
        -- rolled_back = succeeded, then reverted
        is_production_attempt and status = 'rolled_back' as is_production_rolled_back,
        -- DORA change failure: the attempt failed or had to be rolled back
        is_production_attempt and status in ('failed', 'rolled_back') as is_production_change_failure

    from flagged

)

select * from final
