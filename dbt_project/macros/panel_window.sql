{#-
    The partition window of a run: dbt vars window_start / window_end, ISO dates ('YYYY-MM-DD') of Mondays,
    half-open [window_start, window_end). Dagster passes them for a week partition (or a range of them):
        dbt build --vars '{window_start: "2024-01-08", window_end: "2024-01-15"}'
    Both unset = every week. Returns none or a (start, end) pair of ISO strings; anything else is a
    compilation error, so a malformed window never silently rebuilds or deletes the wrong weeks.
-#}
{% macro panel_window() -%}
    {%- set raw_start = var('window_start', none) -%}
    {%- set raw_end = var('window_end', none) -%}
    {%- set start_missing = raw_start is none or (raw_start | string | trim) == '' -%}
    {%- set end_missing = raw_end is none or (raw_end | string | trim) == '' -%}
    {%- if start_missing and end_missing -%}
        {{ return(none) }}
    {%- endif -%}
    {%- if start_missing or end_missing -%}
        {{ exceptions.raise_compiler_error(
            "Set both vars window_start and window_end (or neither); got window_start=" ~ raw_start
            ~ ", window_end=" ~ raw_end) }}
    {%- endif -%}
    {#- A YAML date (window_start: 2024-01-08, unquoted) arrives as a date object: its string is ISO too. -#}
    {%- set bounds = [] -%}
    {%- for raw in [raw_start, raw_end] -%}
        {%- set text = raw | string | trim -%}
        {%- if not modules.re.match('^[0-9]{4}-[0-9]{2}-[0-9]{2}$', text) -%}
            {{ exceptions.raise_compiler_error("Window bound '" ~ text ~ "' is not an ISO date YYYY-MM-DD") }}
        {%- endif -%}
        {%- set day = modules.datetime.date.fromisoformat(text) -%}
        {%- if day.weekday() != 0 -%}
            {{ exceptions.raise_compiler_error("Window bound " ~ text ~ " is not a Monday (ISO week start)") }}
        {%- endif -%}
        {%- do bounds.append(day) -%}
    {%- endfor -%}
    {%- if bounds[0] >= bounds[1] -%}
        {{ exceptions.raise_compiler_error(
            "window_start " ~ bounds[0] ~ " must be before window_end " ~ bounds[1]) }}
    {%- endif -%}
    {{ return([bounds[0].isoformat(), bounds[1].isoformat()]) }}
{%- endmacro %}


{#-
    Predicate selecting the rows of a week column inside the run's window; always true when no window is
    set or on --full-refresh (a full refresh rebuilds every week, whatever window came with it).
-#}
{% macro in_panel_window(week_column) -%}
    {%- set window = ctsw.panel_window() -%}
    {%- if window is none or should_full_refresh() -%}
        (1 = 1)
    {%- else -%}
        ({{ week_column }} >= {{ dbt.cast(dbt.string_literal(window[0]), 'date') }}
         and {{ week_column }} < {{ dbt.cast(dbt.string_literal(window[1]), 'date') }})
    {%- endif -%}
{%- endmacro %}


{#-
    Pre-hook of the partitioned marts. delete+insert on week_start only deletes weeks that the new batch
    contains, so a week of the window whose rows all vanished upstream (e.g. the last membership of every
    team ended earlier than previously loaded) would keep stale rows. Deleting the whole window first (in
    the same transaction as the insert) makes a run replace exactly the window; without a window an
    incremental run deletes everything and re-inserts every week.
-#}
{% macro delete_panel_window(week_column='week_start') -%}
    {%- if is_incremental() -%}
        delete from {{ this }} where {{ ctsw.in_panel_window(week_column) }}
    {%- endif -%}
{%- endmacro %}


{#-
    Predicate selecting the rows whose half-open period [start_column, end_column) overlaps the run's
    window (e.g. an on-call shift spanning two weeks); always true without a window or on --full-refresh.
-#}
{% macro overlaps_panel_window(start_column, end_column) -%}
    {%- set window = ctsw.panel_window() -%}
    {%- if window is none or should_full_refresh() -%}
        (1 = 1)
    {%- else -%}
        ({{ start_column }} < {{ dbt.cast(dbt.string_literal(window[1]), 'date') }}
         and {{ end_column }} > {{ dbt.cast(dbt.string_literal(window[0]), 'date') }})
    {%- endif -%}
{%- endmacro %}


{#-
    full_refresh config of the incremental intermediates: true when no window is set, so that a full build
    creates the table in one statement (as a table model would) instead of deleting every row and
    re-inserting all history; none otherwise, leaving the --full-refresh flag in charge.
-#}
{% macro window_full_refresh() -%}
    {{ return(none if ctsw.panel_window() is not none else true) }}
{%- endmacro %}


{#-
    True when the run has a window of at most max_weeks weeks (and no --full-refresh). Models whose
    window-restricted plan is a semi-join against all history (int_pull_requests_shipped) use it only then:
    for a weekly run it skips nearly every row early, for a backfill window of years it is slower than
    computing everything and filtering to the window at the end (same rows either way).
-#}
{% macro is_narrow_panel_window(max_weeks=13) -%}
    {%- set window = ctsw.panel_window() -%}
    {%- if window is none or should_full_refresh() -%}
        {{ return(false) }}
    {%- endif -%}
    {%- set days = (modules.datetime.date.fromisoformat(window[1])
                    - modules.datetime.date.fromisoformat(window[0])).days -%}
    {{ return(days <= 7 * max_weeks) }}
{%- endmacro %}


{#-
    The config of a team-level intermediate that is incremental by week (dbt_project/README.md): delete+insert
    on its week column, the window deleted first by the pre-hook, created whole when the run has no window.
-#}
{% macro week_incremental_config(week_column='week_start') -%}
    {{ return({
        'materialized': 'incremental',
        'incremental_strategy': 'delete+insert',
        'unique_key': week_column,
        'on_schema_change': 'fail',
        'full_refresh': ctsw.window_full_refresh(),
        'pre_hook': "{{ ctsw.delete_panel_window('" ~ week_column ~ "') }}",
    }) }}
{%- endmacro %}
