with

source as (

    select * from {{ source('raw', 'memberships') }}

),

renamed as (

    select
        developer_id,
        team_id,
        lower(trim(role)) as role,
        start_date,
        end_date,
        fte,
        annual_loaded_cost_usd

    from source

),

final as (

    select
        *,
        -- only builders count towards builder FTE, builders, on-call and AI adoption
        role = 'builder' as is_builder

    from renamed

)

select * from final
