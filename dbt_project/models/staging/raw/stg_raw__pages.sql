with

source as (

    select * from {{ source('raw', 'pages') }}

),

renamed as (

    select
        page_id,
        team_id,
        triggered_at,
        acknowledged_at,
        resolved_at,
        lower(trim(severity)) as severity,
        responder_id

    from source

)

select * from renamed
