{#-
    Median of a numeric expression as an aggregate (interpolated for an even count, like
    percentile_cont(0.5)). DuckDB has median(); the default is the ordered-set aggregate of ANSI SQL.
-#}
{% macro median(expr) -%}
    {{ return(adapter.dispatch('median', 'ctsw')(expr)) }}
{%- endmacro %}

{% macro default__median(expr) -%}
    percentile_cont(0.5) within group (order by {{ expr }})
{%- endmacro %}

{% macro duckdb__median(expr) -%}
    median({{ expr }})
{%- endmacro %}

{% macro spark__median(expr) -%}
    percentile({{ expr }}, 0.5)
{%- endmacro %}
