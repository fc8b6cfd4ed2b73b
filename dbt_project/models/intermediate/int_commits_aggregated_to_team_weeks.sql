with

commits as (

    select * from {{ ref('stg_raw__commits') }}

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
