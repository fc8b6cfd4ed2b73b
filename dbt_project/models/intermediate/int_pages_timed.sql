{{ config(**ctsw.week_incremental_config()) }}

with

pages as (

    select * from {{ ref('stg_raw__pages') }}
    where {{ ctsw.in_panel_window('triggered_at') }}

),

final as (

    select
        page_id,
        team_id,
        triggered_at,
        resolved_at,
        {{ ctsw.week_start('triggered_at') }} as week_start,
        -- null while unresolved: such a page counts as a page but has no restore time
        {{ dbt.datediff('triggered_at', 'resolved_at', 'second') }} / 3600.0 as restore_hours

    from pages

)

select * from final
