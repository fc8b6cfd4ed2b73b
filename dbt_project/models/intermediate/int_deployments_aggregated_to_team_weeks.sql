{{ config(**ctsw.week_incremental_config()) }}

{#- Production deployment attempts (non-rollback production deployments) per team and week of started_at. -#}
with

deployments as (

    select * from {{ ref('stg_raw__deployments') }}
    where {{ ctsw.in_panel_window('started_at') }}

),

aggregated as (

    select
        team_id,
        {{ ctsw.week_start('started_at') }} as week_start,
        count(*) as deployment_attempts,
        sum(case when is_production_success then 1 else 0 end) as deployments,
        sum(case when is_production_rolled_back then 1 else 0 end) as rollbacks,
        sum(case when is_production_change_failure then 1 else 0 end) as change_failures,
        sum(manual_interventions) as manual_interventions

    from deployments
    where is_production_attempt
    group by 1, 2

)

select * from aggregated
