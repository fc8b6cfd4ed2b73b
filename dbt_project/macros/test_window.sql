{#-
    Data tests of a windowed run scan only the window's rows. Overrides dbt's get_where_subquery (the
    macro every generic test reads its model through): when the tested model's config sets
    meta.panel_window_column and a window is set, the test reads
    (select * from model where <column> in [window_start, window_end)) dbt_subquery.
    A partitioned run rebuilds (marts, incremental intermediates) or loads (raw event tables, by their
    partition column) only the window's rows, so these are the rows a run can break; every other week was
    tested by the run that wrote it. Without a window (a full build) and on --full-refresh every test
    scans all history. A test's own `where` config is kept and combined with the window.
-#}
{% macro get_where_subquery(relation) -%}
    {%- set where = config.get('where', '') -%}
    {%- set window_column = ctsw.tested_model_window_column() -%}
    {%- set window = ctsw.panel_window() -%}
    {%- set predicates = [] -%}
    {%- if where -%}
        {%- do predicates.append('(' ~ where ~ ')') -%}
    {%- endif -%}
    {%- if window_column and window is not none and not flags.FULL_REFRESH -%}
        {%- do predicates.append(ctsw.in_panel_window(window_column)) -%}
    {%- endif -%}
    {%- if predicates -%}
        {%- set filtered -%}
            (select * from {{ relation }} where {{ predicates | join(' and ') }}) dbt_subquery
        {%- endset -%}
        {{ return(filtered) }}
    {%- else -%}
        {{ return(relation) }}
    {%- endif -%}
{%- endmacro %}


{#- meta.panel_window_column of the model a generic test is attached to, or none. -#}
{% macro tested_model_window_column() -%}
    {%- if not execute -%}
        {{ return(none) }}
    {%- endif -%}
    {%- set attached = model.attached_node -%}
    {%- if attached and attached in graph.nodes -%}
        {{ return(graph.nodes[attached].config.get('meta', {}).get('panel_window_column')) }}
    {%- endif -%}
    {{ return(none) }}
{%- endmacro %}
