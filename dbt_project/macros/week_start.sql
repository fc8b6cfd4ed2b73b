{#-
    ISO week start (Monday 00:00 UTC) of a naive-UTC timestamp or date, as a date.
    Dispatched because engines disagree on the first day of date_trunc('week'): DuckDB, Spark, Trino and
    Snowflake (default WEEK_START) use Monday; BigQuery would need isoweek.
-#}
{% macro week_start(expr) -%}
    {{ return(adapter.dispatch('week_start', 'ctsw')(expr)) }}
{%- endmacro %}

{% macro default__week_start(expr) -%}
    {{ dbt.cast(dbt.date_trunc('week', expr), 'date') }}
{%- endmacro %}

{% macro bigquery__week_start(expr) -%}
    date_trunc(date({{ expr }}), isoweek)
{%- endmacro %}


{#- The exclusive end of the week that starts at week_start_expr (a date): week_start + 7 days, as a date. -#}
{% macro week_end(week_start_expr) -%}
    {{ dbt.cast(dbt.dateadd('day', 7, week_start_expr), 'date') }}
{%- endmacro %}
