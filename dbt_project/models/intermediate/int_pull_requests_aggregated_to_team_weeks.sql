{{ config(**ctsw.week_incremental_config()) }}

{#- PR counts per team and week: merged by merged_at, shipped by shipped time, so a PR can count in two weeks. -#}
with

pull_requests as (

    select * from {{ ref('stg_raw__pull_requests') }}
    where {{ ctsw.in_panel_window('merged_at') }}

),

shipped_pull_requests as (

    select * from {{ ref('int_pull_requests_shipped') }}
    where {{ ctsw.in_panel_window('shipped_week_start') }}

),

merged as (

    select
        team_id,
        {{ ctsw.week_start('merged_at') }} as week_start,
        count(*) as prs_merged

    from pull_requests
    where merged_at is not null
    group by 1, 2

),

shipped as (

    select
        team_id,
        shipped_week_start as week_start,
        count(*) as prs_shipped,
        -- PRs without first_commit_at have no lead time and drop out of the median only
        {{ ctsw.median('lead_time_hours') }} as dora_lead_time_hours

    from shipped_pull_requests
    group by 1, 2

),

team_weeks as (

    select team_id, week_start from merged
    union
    select team_id, week_start from shipped

),

final as (

    select
        team_weeks.team_id,
        team_weeks.week_start,
        coalesce(merged.prs_merged, 0) as prs_merged,
        coalesce(shipped.prs_shipped, 0) as prs_shipped,
        shipped.dora_lead_time_hours

    from team_weeks
    left join merged
        on merged.team_id = team_weeks.team_id
        and merged.week_start = team_weeks.week_start
    left join shipped
        on shipped.team_id = team_weeks.team_id
        and shipped.week_start = team_weeks.week_start

)

select * from final
