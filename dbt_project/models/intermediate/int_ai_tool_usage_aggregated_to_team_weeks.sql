{{ config(**ctsw.week_incremental_config()) }}

with

attributed_usage as (

    select * from {{ ref('int_ai_tool_usage_attributed_to_builders') }}
    -- usage_date, not week_start (same rows: the bounds are Mondays): only a filter on the raw column
    -- reaches the scan below the view's distinct
    where {{ ctsw.in_panel_window('usage_date') }}

),

aggregated as (

    select
        team_id,
        week_start,
        -- any tool, any day of the week: a builder is AI-active once
        count(distinct developer_id) as ai_active_builders

    from attributed_usage
    group by 1, 2

)

select * from aggregated
