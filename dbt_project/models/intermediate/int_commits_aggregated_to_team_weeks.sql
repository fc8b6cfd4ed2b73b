{{ config(**ctsw.week_incremental_config()) }}

with

commits as (

    select * from {{ ref('stg_raw__commits') }}
    -- the week of reached_customer_at: only the window's commits
    where {{ ctsw.in_panel_window('reached_customer_at') }}

),

aggregated as (

    select
        team_id,
        {{ ctsw.week_start('reached_customer_at') }} as week_start,
        count(*) as commits_shipped

    from commits
    where reached_customer_at is not null
    group by 1, 2

)

select * from aggregated
