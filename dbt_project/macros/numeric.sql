{#-
    64-bit floating point type. dbt.type_float() is FLOAT, which DuckDB reads as a 32-bit REAL, too coarse
    for dollars; DOUBLE is understood by DuckDB, Spark, Trino and Snowflake.
-#}
{% macro type_double() -%}
    {{ return(adapter.dispatch('type_double', 'ctsw')()) }}
{%- endmacro %}

{% macro default__type_double() -%}
    double
{%- endmacro %}

{% macro postgres__type_double() -%}
    double precision
{%- endmacro %}


{#-
    numerator / denominator as a double, null when the denominator is zero or null: ratios in the panel are
    never infinite or NaN, and integer / integer never truncates (Postgres-style engines would).
-#}
{% macro safe_divide(numerator, denominator) -%}
    case
        when {{ denominator }} is null or {{ denominator }} = 0 then null
        else {{ dbt.cast(numerator, ctsw.type_double()) }} / {{ denominator }}
    end
{%- endmacro %}


{#-
    Sum of a floating point expression rounded to `places` decimals. Engines add floats in whatever order
    parallel workers finish, so the last bits of a plain sum can differ between two runs of the same window;
    rounding far below the precision that matters (micro-dollars, nano-FTE) makes re-runs reproduce the same
    values. Ratios derived from these sums are then deterministic too.
-#}
{% macro stable_sum(expr, places) -%}
    round(sum({{ expr }}), {{ places }})
{%- endmacro %}
