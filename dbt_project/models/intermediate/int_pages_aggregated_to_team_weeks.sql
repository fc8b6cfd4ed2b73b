{{ config(**ctsw.week_incremental_config()) }}

with

timed_pages as (

    select * from {{ ref('int_pages_timed') }}
    where {{ ctsw.in_panel_window('week_start') }}

),

aggregated as (

    select
        team_id,
        week_start,
        count(*) as pages,
        -- unresolved pages have no restore time and drop out of the median only
        {{ ctsw.median('restore_hours') }} as dora_time_to_restore_hours

    from timed_pages
    group by 1, 2

)

select * from aggregated
