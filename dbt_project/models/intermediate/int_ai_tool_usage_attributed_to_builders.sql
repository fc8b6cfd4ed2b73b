{#-
    Active AI tool days attributed to the teams where the person was a builder on that very day
    (start_date <= usage_date < end_date). A day outside every builder membership counts for no team; a
    person building in two teams at once counts for both.
-#}
with

active_usage as (

    select * from {{ ref('stg_raw__ai_tool_usage') }}
    where is_active

),

builder_memberships as (

    select * from {{ ref('stg_raw__memberships') }}
    where is_builder

),

attributed as (

    -- distinct: overlapping builder memberships of one person in one team would repeat the day
    select distinct
        builder_memberships.team_id,
        active_usage.developer_id,
        active_usage.usage_date,
        active_usage.tool

    from active_usage
    inner join builder_memberships
        on builder_memberships.developer_id = active_usage.developer_id
        and builder_memberships.start_date <= active_usage.usage_date
        and (builder_memberships.end_date is null or active_usage.usage_date < builder_memberships.end_date)

),

final as (

    select
        team_id,
        developer_id,
        usage_date,
        {{ ctsw.week_start('usage_date') }} as week_start,
        tool

    from attributed

)

select * from final
