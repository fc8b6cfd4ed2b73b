with

source as (

    select * from {{ source('raw', 'teams') }}

),

renamed as (

    select
        team_id,
        team_name,
        org,
        lower(trim(architecture)) as architecture,
        -- the contract reads an empty delivery_unit as "not declared"
        nullif(lower(trim(delivery_unit)), '') as declared_delivery_unit

    from source

),

final as (

    select
        team_id,
        team_name,
        org,
        architecture,
        coalesce(declared_delivery_unit, {{ default_delivery_unit('architecture') }}) as delivery_unit,
        declared_delivery_unit is null as is_default_delivery_unit

    from renamed

)

select * from final
