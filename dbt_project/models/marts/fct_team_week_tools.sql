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
    AI adoption per tool: one row per team-week of the panel and tool with at least one AI-active builder
    (a missing tool means zero; zero rows are not written because the set of tools is only known from usage).
-#}

with

attributed_usage as (

    select * from {{ ref('int_ai_tool_usage_attributed_to_builders') }}
    -- usage_date, not week_start (same rows: the bounds are Mondays): a filter on the raw column reaches
    -- the scan below the view's distinct, one on the derived week does not
    where {{ ctsw.in_panel_window('usage_date') }}

),

staffing as (

    select * from {{ ref('int_memberships_aggregated_to_team_weeks') }}
    where {{ ctsw.in_panel_window('week_start') }}

),

tool_weeks as (

    select
        team_id,
        week_start,
        tool,
        count(distinct developer_id) as ai_active_builders

    from attributed_usage
    group by team_id, week_start, tool

),

final as (

    select
        tool_weeks.team_id,
        tool_weeks.week_start,
        tool_weeks.tool,
        tool_weeks.ai_active_builders,
        staffing.builders,
        {{ ctsw.safe_divide('tool_weeks.ai_active_builders', 'staffing.builders') }} as ai_usage_share

    from tool_weeks
    -- inner: only team-weeks that are in the panel
    inner join staffing
        on staffing.team_id = tool_weeks.team_id
        and staffing.week_start = tool_weeks.week_start

)

select * from final
