{{ config(**ctsw.week_incremental_config()) }}

{#-
    On-call builders per team-week: builders of the team (builder membership overlapping the week) with a
    shift on that team's rota overlapping the week. Neither has to cover the other day by day.
-#}
with

shifts as (

    select * from {{ ref('stg_raw__oncall_shifts') }}
    -- a shift can span weeks: keep every shift overlapping the window, not only those starting in it
    where {{ ctsw.overlaps_panel_window('shift_start', 'shift_end') }}

),

builder_weeks as (

    select distinct team_id, developer_id, week_start, week_end
    from {{ ref('int_memberships_split_by_week') }}
    where is_builder
      and {{ ctsw.in_panel_window('week_start') }}

),

oncall_builder_weeks as (

    select distinct
        builder_weeks.team_id,
        builder_weeks.week_start,
        builder_weeks.developer_id

    from builder_weeks
    inner join shifts
        on shifts.team_id = builder_weeks.team_id
        and shifts.developer_id = builder_weeks.developer_id
        and shifts.shift_start < builder_weeks.week_end
        and shifts.shift_end > builder_weeks.week_start

),

aggregated as (

    select
        team_id,
        week_start,
        count(*) as oncall_builders

    from oncall_builder_weeks
    group by 1, 2

)

select * from aggregated
