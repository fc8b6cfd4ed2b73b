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

first_deployments as (

    -- the earliest such deployment is the one that shipped the PR: its finished_at is the minimum
    select
        deployment_pull_requests.pr_id,
        min(successful_deployments.finished_at) as first_deployed_at

    from deployment_pull_requests
    inner join successful_deployments
        on successful_deployments.deployment_id = deployment_pull_requests.deployment_id
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
