{{
    config(
        materialized='incremental',
        incremental_strategy='delete+insert',
        unique_key='week_start',
        on_schema_change='fail',
        pre_hook="{{ ctsw.delete_panel_window() }}",
        tags=['partitioned']
    )
}}

{#-
    The team-week panel (docs/panel.md). Every import reads an intermediate view restricted to the run's
    window, so a partitioned run recomputes exactly the weeks of [window_start, window_end) from all history
    upstream; nothing reads this table back.
-#}

with

staffing as (

    select * from {{ ref('int_memberships_aggregated_to_team_weeks') }}
    where {{ ctsw.in_panel_window('week_start') }}

),

teams as (

    select * from {{ ref('stg_raw__teams') }}

),

pull_request_weeks as (

    select * from {{ ref('int_pull_requests_aggregated_to_team_weeks') }}
    where {{ ctsw.in_panel_window('week_start') }}

),

deployment_weeks as (

    select * from {{ ref('int_deployments_aggregated_to_team_weeks') }}
    where {{ ctsw.in_panel_window('week_start') }}

),

commit_weeks as (

    select * from {{ ref('int_commits_aggregated_to_team_weeks') }}
    where {{ ctsw.in_panel_window('week_start') }}

),

page_weeks as (

    select * from {{ ref('int_pages_aggregated_to_team_weeks') }}
    where {{ ctsw.in_panel_window('week_start') }}

),

oncall_weeks as (

    select * from {{ ref('int_oncall_shifts_aggregated_to_team_weeks') }}
    where {{ ctsw.in_panel_window('week_start') }}

),

ai_weeks as (

    select * from {{ ref('int_ai_tool_usage_aggregated_to_team_weeks') }}
    where {{ ctsw.in_panel_window('week_start') }}

),

joined as (

    -- the staffing spine decides which team-weeks exist; activity of a week without members is dropped
    select
        staffing.team_id,
        staffing.week_start,
        teams.org,
        teams.architecture,
        teams.delivery_unit,
        staffing.builder_fte,
        staffing.builders,
        staffing.headcount,
        staffing.dev_cost_usd,
        coalesce(pull_request_weeks.prs_merged, 0) as prs_merged,
        coalesce(deployment_weeks.deployment_attempts, 0) as deployment_attempts,
        coalesce(deployment_weeks.deployments, 0) as deployments,
        coalesce(deployment_weeks.rollbacks, 0) as rollbacks,
        coalesce(deployment_weeks.change_failures, 0) as change_failures,
        coalesce(deployment_weeks.manual_interventions, 0) as manual_interventions,
        coalesce(page_weeks.pages, 0) as pages,
        coalesce(oncall_weeks.oncall_builders, 0) as oncall_builders,
        coalesce(ai_weeks.ai_active_builders, 0) as ai_active_builders,
        coalesce(pull_request_weeks.prs_shipped, 0) as prs_shipped,
        coalesce(commit_weeks.commits_shipped, 0) as commits_shipped,
        pull_request_weeks.dora_lead_time_hours,
        page_weeks.dora_time_to_restore_hours

    from staffing
    left join teams
        on teams.team_id = staffing.team_id
    left join pull_request_weeks
        on pull_request_weeks.team_id = staffing.team_id
        and pull_request_weeks.week_start = staffing.week_start
    left join deployment_weeks
        on deployment_weeks.team_id = staffing.team_id
        and deployment_weeks.week_start = staffing.week_start
    left join commit_weeks
        on commit_weeks.team_id = staffing.team_id
        and commit_weeks.week_start = staffing.week_start
    left join page_weeks
        on page_weeks.team_id = staffing.team_id
        and page_weeks.week_start = staffing.week_start
    left join oncall_weeks
        on oncall_weeks.team_id = staffing.team_id
        and oncall_weeks.week_start = staffing.week_start
    left join ai_weeks
        on ai_weeks.team_id = staffing.team_id
        and ai_weeks.week_start = staffing.week_start

),

with_units as (

    select
        *,
        case delivery_unit
            when 'deployment' then deployments
            when 'pull_request' then prs_shipped
            when 'commit' then commits_shipped
        end as units_delivered

    from joined

),

final as (

    select
        team_id,
        week_start,
        org,
        architecture,
        delivery_unit,
        builder_fte,
        builders,
        headcount,
        dev_cost_usd,
        prs_merged,
        {{ ctsw.safe_divide('prs_merged', 'builder_fte') }} as cr_velocity,
        deployment_attempts,
        deployments,
        {{ ctsw.safe_divide('deployments', 'builder_fte') }} as deploy_velocity,
        rollbacks,
        {{ ctsw.safe_divide('rollbacks', 'deployment_attempts') }} as rollback_rate,
        manual_interventions,
        {{ ctsw.safe_divide('manual_interventions', 'deployment_attempts') }} as interventions_per_deploy,
        pages,
        oncall_builders,
        {{ ctsw.safe_divide('pages', 'oncall_builders') }} as pages_per_oncall_builder,
        ai_active_builders,
        {{ ctsw.safe_divide('ai_active_builders', 'builders') }} as ai_usage_share,
        prs_shipped,
        commits_shipped,
        units_delivered,
        {{ ctsw.safe_divide('dev_cost_usd', 'units_delivered') }} as cts_sw_usd,
        case
            when units_delivered is null or units_delivered = 0 then 'no_units_delivered'
        end as cts_sw_null_reason,
        deployments as dora_deployment_frequency,
        dora_lead_time_hours,
        change_failures,
        {{ ctsw.safe_divide('change_failures', 'deployment_attempts') }} as dora_change_failure_rate,
        dora_time_to_restore_hours

    from with_units

)

select * from final
