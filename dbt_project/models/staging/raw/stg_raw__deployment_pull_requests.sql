with

source as (

    select * from {{ source('raw', 'deployment_pull_requests') }}

),

renamed as (

    -- distinct: a PR listed twice in one deployment's pr_ids is still shipped once by it
    select distinct
        deployment_id,
        pr_id,
        started_at as deployment_started_at

    from source

)

select * from renamed
