{{ config(**ctsw.week_incremental_config('shipped_week_start')) }}

{#-
    Incremental by the week of shipped time. A windowed run rebuilds the PRs shipped in the window: those
    whose shipped_at falls in it, and those without shipped_at listed by a successful deployment that
    finished in it, provided no earlier successful deployment (any week) shipped them first. The PR itself
    may have been opened or merged in any earlier week, so its row is looked up in all history.
-#}
{#- The narrowing below (PRs that can have shipped in the window) pays for a short window only. -#}
{%- set windowed = ctsw.is_narrow_panel_window() %}

with

pull_requests as (

    select * from {{ ref('stg_raw__pull_requests') }}

),

deployment_pull_requests as (

    select * from {{ ref('stg_raw__deployment_pull_requests') }}

),

successful_deployments as (

    select deployment_id, finished_at
    from {{ ref('stg_raw__deployments') }}
    -- only a succeeded production attempt that finished says when the PR reached customers
    where is_production_success
      and finished_at is not null

),

{%- if windowed %}

window_deployments as (

    select deployment_id, started_at
    from {{ ref('stg_raw__deployments') }}
    where is_production_success
      and finished_at is not null
      and {{ ctsw.in_panel_window('finished_at') }}

),

window_deployed_pull_requests as (

    -- PRs a successful deployment finishing in the window listed: the only ones it can have shipped. The
    -- started_at bounds (constants by the time the bridge is scanned) let the scan skip the other weeks.
    select distinct deployment_pull_requests.pr_id
    from deployment_pull_requests
    inner join window_deployments
        on window_deployments.deployment_id = deployment_pull_requests.deployment_id
    where deployment_pull_requests.deployment_started_at >= (select min(started_at) from window_deployments)
      and deployment_pull_requests.deployment_started_at <= (select max(started_at) from window_deployments)

),

{% endif -%}

first_deployments as (

    -- the earliest such deployment is the one that shipped the PR: its finished_at is the minimum
    select
        deployment_pull_requests.pr_id,
        min(successful_deployments.finished_at) as first_deployed_at

    from deployment_pull_requests
    inner join successful_deployments
        on successful_deployments.deployment_id = deployment_pull_requests.deployment_id
    {%- if windowed %}
    -- over all of those PRs' deployments, earlier weeks included
    where deployment_pull_requests.pr_id in (select pr_id from window_deployed_pull_requests)
    {%- endif %}
    group by deployment_pull_requests.pr_id

),

shipped as (

    select
        pull_requests.pr_id,
        pull_requests.team_id,
        pull_requests.first_commit_at,
        pull_requests.merged_at,
        coalesce(pull_requests.shipped_at, first_deployments.first_deployed_at) as shipped_time,
        case
            when pull_requests.shipped_at is not null then 'shipped_at'
            else 'deployment'
        end as shipped_time_source

    from pull_requests
    left join first_deployments
        on first_deployments.pr_id = pull_requests.pr_id
    where coalesce(pull_requests.shipped_at, first_deployments.first_deployed_at) is not null
      and {{ ctsw.in_panel_window('coalesce(pull_requests.shipped_at, first_deployments.first_deployed_at)') }}
    {%- if windowed %}
      -- implied by the line above, but on the PR's own columns, so most PRs drop out before the join
      and (
          {{ ctsw.in_panel_window('pull_requests.shipped_at') }}
          or (pull_requests.shipped_at is null
              and pull_requests.pr_id in (select pr_id from window_deployed_pull_requests))
      )
    {%- endif %}

),

final as (

    select
        pr_id,
        team_id,
        shipped_time,
        shipped_time_source,
        {{ ctsw.week_start('shipped_time') }} as shipped_week_start,
        first_commit_at,
        merged_at,
        {{ dbt.datediff('first_commit_at', 'shipped_time', 'second') }} / 3600.0 as lead_time_hours

    from shipped

)

select * from final
