{{ config(**ctsw.week_incremental_config()) }}

{#- The panel's spine: every team-week with at least one membership (any role) overlapping the week. -#}
with

membership_weeks as (

    select * from {{ ref('int_memberships_split_by_week') }}
    -- pushed down into the view's join with the week spine: only memberships overlapping the window
    where {{ ctsw.in_panel_window('week_start') }}

),

aggregated as (

    select
        team_id,
        week_start,
        {{ ctsw.stable_sum('case when is_builder then fte_in_week else 0 end', 9) }} as builder_fte,
        count(distinct case when is_builder then developer_id end) as builders,
        count(distinct developer_id) as headcount,
        {{ ctsw.stable_sum('cost_usd', 6) }} as dev_cost_usd

    from membership_weeks
    group by team_id, week_start

)

select * from aggregated
