{#-
    The ISO weeks the panel can have: from the week of the first membership to the last week with
    telemetry (the data horizon). An open membership (end_date null) runs "forever"; the horizon is where
    the panel stops counting it, so a week nothing has been loaded for yet has no rows rather than rows of
    zeros. The horizon reads the event tables' partition columns except on-call shifts, which rotas
    schedule ahead of time.
-#}
{%- set max_weeks = 4096 -%}  {#- 78 years of weeks; generate_series needs a static bound to stay portable -#}

with

memberships as (

    select start_date from {{ ref('stg_raw__memberships') }}

),

pull_requests as (

    select created_at from {{ ref('stg_raw__pull_requests') }}

),

deployments as (

    select started_at from {{ ref('stg_raw__deployments') }}

),

commits as (

    select committed_at from {{ ref('stg_raw__commits') }}

),

pages as (

    select triggered_at from {{ ref('stg_raw__pages') }}

),

ai_tool_usage as (

    select usage_date from {{ ref('stg_raw__ai_tool_usage') }}

),

latest_events as (

    select max({{ ctsw.week_start('created_at') }}) as last_week_start from pull_requests
    union all
    select max({{ ctsw.week_start('started_at') }}) from deployments
    union all
    select max({{ ctsw.week_start('committed_at') }}) from commits
    union all
    select max({{ ctsw.week_start('triggered_at') }}) from pages
    union all
    select max({{ ctsw.week_start('usage_date') }}) from ai_tool_usage

),

bounds as (

    select
        (select min({{ ctsw.week_start('start_date') }}) from memberships) as first_week_start,
        (select max(last_week_start) from latest_events) as last_week_start

),

week_numbers as (

    {{ dbt.generate_series(max_weeks) }}

),

weeks as (

    select
        {{ dbt.cast(dbt.dateadd('day', '7 * (week_numbers.generated_number - 1)', 'bounds.first_week_start'), 'date') }}
            as week_start
    from week_numbers
    cross join bounds

),

final as (

    select
        weeks.week_start,
        {{ ctsw.week_end('weeks.week_start') }} as week_end
    from weeks
    cross join bounds
    where weeks.week_start <= bounds.last_week_start

)

select * from final
