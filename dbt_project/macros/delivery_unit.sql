{#-
    The unit of software reaching customers that CTS-SW divides by, by architecture (the article:
    deployments for services, shipped PRs for monoliths / scheduled releases, commits for trunk teams).
    Mirrors ctsw.contract.DEFAULT_DELIVERY_UNIT; tests/test_dbt_panel.py checks the two agree.
-#}
{% macro default_delivery_unit(architecture) -%}
    case {{ architecture }}
        when 'service' then 'deployment'
        when 'monolith' then 'pull_request'
        when 'trunk' then 'commit'
    end
{%- endmacro %}
