{#-
    A boolean SQL expression over the model's columns holds on every row (rows where it is false or null
    fail). For invariants between columns, e.g. `deployments <= deployment_attempts`.
-#}
{% test expression_is_true(model, expression) %}

select *
from {{ model }}
where not coalesce({{ expression }}, false)

{% endtest %}
