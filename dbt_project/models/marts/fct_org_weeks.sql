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
    Org totals per week over the team-weeks of the panel. Every rate is a ratio of sums (never a mean of
    team ratios), so a team weighs by its cost, builder FTE or attempts. Reads fct_team_weeks for the same
    window (which the same build has just replaced) and the intermediate views for what does not add up:
    distinct people, and medians over PRs and pages.
-#}

with

team_weeks as (

    select * from {{ ref('fct_team_weeks') }}
    where {{ ctsw.in_panel_window('week_start') }}

),

membership_weeks as (

    select * from {{ ref('int_memberships_split_by_week') }}
    where {{ ctsw.in_panel_window('week_start') }}

),

shipped_pull_requests as (

    select * from {{ ref('int_pull_requests_shipped') }}
    where {{ ctsw.in_panel_window('shipped_week_start') }}

),

timed_pages as (

    select * from {{ ref('int_pages_timed') }}
    where {{ ctsw.in_panel_window('week_start') }}

),

teams as (

    select team_id, org from {{ ref('stg_raw__teams') }}

),

summed as (

    select
        org,
        week_start,
        count(*) as teams,
        {{ ctsw.stable_sum('builder_fte', 9) }} as builder_fte,
        {{ ctsw.stable_sum('dev_cost_usd', 6) }} as dev_cost_usd,
        sum(prs_merged) as prs_merged,
        sum(deployment_attempts) as deployment_attempts,
        sum(deployments) as deployments,
        sum(rollbacks) as rollbacks,
        sum(change_failures) as change_failures,
        sum(manual_interventions) as manual_interventions,
        sum(pages) as pages,
        sum(oncall_builders) as oncall_builders,
        sum(ai_active_builders) as ai_active_builders,
        sum(builders) as team_builders,
        sum(prs_shipped) as prs_shipped,
        sum(commits_shipped) as commits_shipped,
        sum(units_delivered) as units_delivered

    from team_weeks
    group by org, week_start

),

people as (

    -- a person in two teams of the org is one person of the org
    select
        teams.org,
        membership_weeks.week_start,
        count(distinct membership_weeks.developer_id) as headcount,
        count(distinct case when membership_weeks.is_builder then membership_weeks.developer_id end) as builders

    from membership_weeks
    inner join teams
        on teams.team_id = membership_weeks.team_id
    group by teams.org, membership_weeks.week_start

),

lead_times as (

    -- medians over the PRs (pages) of the org's team-weeks in the panel, not medians of team medians
    select
        team_weeks.org,
        team_weeks.week_start,
        {{ ctsw.median('shipped_pull_requests.lead_time_hours') }} as dora_lead_time_hours

    from shipped_pull_requests
    inner join team_weeks
        on team_weeks.team_id = shipped_pull_requests.team_id
        and team_weeks.week_start = shipped_pull_requests.shipped_week_start
    group by team_weeks.org, team_weeks.week_start

),

restore_times as (

    select
        team_weeks.org,
        team_weeks.week_start,
        {{ ctsw.median('timed_pages.restore_hours') }} as dora_time_to_restore_hours

    from timed_pages
    inner join team_weeks
        on team_weeks.team_id = timed_pages.team_id
        and team_weeks.week_start = timed_pages.week_start
    group by team_weeks.org, team_weeks.week_start

),

final as (

    select
        summed.org,
        summed.week_start,
        summed.teams,
        people.headcount,
        people.builders,
        summed.builder_fte,
        summed.dev_cost_usd,
        summed.units_delivered,
        {{ ctsw.safe_divide('summed.dev_cost_usd', 'summed.units_delivered') }} as cts_sw_usd,
        case
            when summed.units_delivered is null or summed.units_delivered = 0 then 'no_units_delivered'
        end as cts_sw_null_reason,
        summed.prs_merged,
        {{ ctsw.safe_divide('summed.prs_merged', 'summed.builder_fte') }} as cr_velocity,
        summed.deployment_attempts,
        summed.deployments,
        {{ ctsw.safe_divide('summed.deployments', 'summed.builder_fte') }} as deploy_velocity,
        summed.rollbacks,
        {{ ctsw.safe_divide('summed.rollbacks', 'summed.deployment_attempts') }} as rollback_rate,
        summed.manual_interventions,
        {{ ctsw.safe_divide('summed.manual_interventions', 'summed.deployment_attempts') }}
            as interventions_per_deploy,
        summed.pages,
        summed.oncall_builders,
        {{ ctsw.safe_divide('summed.pages', 'summed.oncall_builders') }} as pages_per_oncall_builder,
        summed.ai_active_builders,
        summed.team_builders,
        {{ ctsw.safe_divide('summed.ai_active_builders', 'summed.team_builders') }} as ai_usage_share,
        summed.prs_shipped,
        summed.commits_shipped,
        summed.deployments as dora_deployment_frequency,
        lead_times.dora_lead_time_hours,
        summed.change_failures,
        {{ ctsw.safe_divide('summed.change_failures', 'summed.deployment_attempts') }}
            as dora_change_failure_rate,
        restore_times.dora_time_to_restore_hours

    from summed
    left join people
        on people.org = summed.org
        and people.week_start = summed.week_start
    left join lead_times
        on lead_times.org = summed.org
        and lead_times.week_start = summed.week_start
    left join restore_times
        on restore_times.org = summed.org
        and restore_times.week_start = summed.week_start

)

select * from final
