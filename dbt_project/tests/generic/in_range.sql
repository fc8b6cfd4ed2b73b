{#-
    Every non-null value of the column lies within [min_value, max_value] (each bound optional; exclusive
    when min_inclusive / max_inclusive is false). Null is left to not_null tests: many panel ratios are
    null by definition. Fails with the offending rows.
-#}
{% test in_range(model, column_name, min_value=none, max_value=none, min_inclusive=true, max_inclusive=true) %}

select *
from {{ model }}
where {{ column_name }} is not null
  and (
      1 = 0
      {%- if min_value is not none %}
      or {{ column_name }} {{ '<' if min_inclusive else '<=' }} {{ min_value }}
      {%- endif %}
      {%- if max_value is not none %}
      or {{ column_name }} {{ '>' if max_inclusive else '>=' }} {{ max_value }}
      {%- endif %}
  )

{% endtest %}
