{#-
    The combination of `columns` is unique across the model (a composite key). Fails with one row per
    duplicated combination. Written here because no package (dbt_utils) can be installed.
-#}
{% test unique_combination(model, columns) %}

with

grouped as (

    select
        {{ columns | join(', ') }},
        count(*) as n_rows
    from {{ model }}
    group by {{ columns | join(', ') }}

)

select * from grouped
where n_rows > 1

{% endtest %}
