{#- Every non-null value of the column is an ISO week start (a Monday date). Fails with the offending rows. -#}
{% test is_week_start(model, column_name) %}

select *
from {{ model }}
where {{ column_name }} is not null
  and {{ column_name }} <> {{ ctsw.week_start(column_name) }}

{% endtest %}
