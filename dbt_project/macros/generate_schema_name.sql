{#-
    Models land in exactly the schema they configure (staging, intermediate, marts): dbt's default would
    prefix the target schema (main_staging), which downstream readers (Dagster, notebooks) would have to
    know about. Nodes without a custom schema (tests' audit relations) use the target schema.
-#}
{% macro generate_schema_name(custom_schema_name, node) -%}
    {%- if custom_schema_name is none -%}
        {{ target.schema }}
    {%- else -%}
        {{ custom_schema_name | trim }}
    {%- endif -%}
{%- endmacro %}
