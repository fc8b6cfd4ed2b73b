with

source as (

    select * from {{ source('raw', 'deployment_pull_requests') }}

),

renamed as (

    -- no distinct: the loader writes each (deployment, PR) pair once (ctsw/ingest/load.py), the key test
    -- checks it, and the one reader (int_pull_requests_shipped) takes min(finished_at) and membership,
    -- which a repeated pair cannot change. A distinct here made every read of the view aggregate the
    -- whole bridge before any filter or join could narrow it (most of a windowed build's time).
    select
        deployment_id,
        pr_id,
        started_at as deployment_started_at

    from source

)

select * from renamed
