with

memberships as (

    select * from {{ ref('stg_raw__memberships') }}

),

weeks as (

    select * from {{ ref('int_weeks_enumerated') }}

),

overlapping as (

    -- half-open periods overlap when each starts before the other ends; an open membership never ends
    select
        memberships.developer_id,
        memberships.team_id,
        memberships.role,
        memberships.is_builder,
        memberships.start_date,
        memberships.end_date,
        memberships.fte,
        memberships.annual_loaded_cost_usd,
        weeks.week_start,
        weeks.week_end,
        {{ dbt.datediff(
            'greatest(memberships.start_date, weeks.week_start)',
            'least(coalesce(memberships.end_date, weeks.week_end), weeks.week_end)',
            'day') }} as days_in_week

    from memberships
    inner join weeks
        on weeks.week_start < coalesce(memberships.end_date, weeks.week_end)
        and weeks.week_end > memberships.start_date

),

final as (

    select
        developer_id,
        team_id,
        role,
        is_builder,
        start_date,
        end_date,
        week_start,
        week_end,
        days_in_week,
        fte,
        annual_loaded_cost_usd,
        fte * days_in_week / 7.0 as fte_in_week,
        -- 52.18 weeks per year (365.25 / 7, rounded as docs/panel.md fixes it)
        fte * days_in_week / 7.0 * annual_loaded_cost_usd / 52.18 as cost_usd

    from overlapping
    -- a degenerate period (end_date = start_date) overlaps no day
    where days_in_week > 0

)

select * from final
