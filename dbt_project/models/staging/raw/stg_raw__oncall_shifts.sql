with

source as (

    select * from {{ source('raw', 'oncall_shifts') }}

),

renamed as (

    select
        developer_id,
        team_id,
        shift_start,
        shift_end

    from source

)

select * from renamed
