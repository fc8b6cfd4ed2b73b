with

source as (

    select * from {{ source('raw', 'pull_requests') }}

),

renamed as (

    select
        pr_id,
        team_id,
        author_id,
        created_at,
        merged_at,
        shipped_at,
        first_commit_at,
        additions,
        deletions

    from source

),

final as (

    select
        *,
        merged_at is not null as is_merged

    from renamed

)

select * from final
