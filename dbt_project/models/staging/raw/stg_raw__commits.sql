with

source as (

    select * from {{ source('raw', 'commits') }}

),

renamed as (

    select
        sha,
        team_id,
        author_id,
        committed_at,
        reached_customer_at

    from source

)

select * from renamed
