with

source as (

    select * from {{ source('raw', 'ai_tool_usage') }}

),

renamed as (

    select
        developer_id,
        usage_date,
        -- the contract promises lower case; normalise anyway so one tool is one group
        lower(trim(tool)) as tool,
        active as is_active

    from source

)

select * from renamed
