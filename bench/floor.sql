-- The floor: the team-week panel (marts.fct_team_weeks, docs/panel.md) computed by one hand-written DuckDB
-- script straight from the Parquet landing files, with none of the pipeline's machinery (no text staging,
-- validation, quarantine, pseudonyms, dbt views or tests). bench/run.py times it as the cheapest way to do the
-- same work on this machine and checks that its panel equals the dbt panel (docs/performance.md).
--
-- Paths are relative: the caller runs `SET file_search_path = '<landing dir>'` and `SET TimeZone = 'UTC'`
-- first. The result is the temp table `floor_panel`, with the columns of marts.fct_team_weeks.
-- Assumes clean input (simulated telemetry): nothing here would be quarantined by the loaders.

CREATE OR REPLACE TEMP TABLE floor_memberships AS
SELECT developer_id, team_id, lower(trim(role)) = 'builder' AS is_builder, start_date, end_date, fte,
       annual_loaded_cost_usd
FROM read_parquet('memberships/*.parquet');

CREATE OR REPLACE TEMP TABLE floor_panel AS
WITH
teams AS (
    SELECT team_id, org, lower(trim(architecture)) AS architecture,
           coalesce(nullif(lower(trim(delivery_unit)), ''),
                    CASE lower(trim(architecture)) WHEN 'service' THEN 'deployment'
                         WHEN 'monolith' THEN 'pull_request' WHEN 'trunk' THEN 'commit' END) AS delivery_unit
    FROM read_parquet('teams/*.parquet')
),
pull_requests AS (
    SELECT pr_id, team_id, created_at::TIMESTAMP AS created_at, merged_at::TIMESTAMP AS merged_at,
           shipped_at::TIMESTAMP AS shipped_at, first_commit_at::TIMESTAMP AS first_commit_at
    FROM read_parquet('pull_requests/*.parquet')
),
deployments AS (
    SELECT deployment_id, team_id, started_at::TIMESTAMP AS started_at, finished_at::TIMESTAMP AS finished_at,
           lower(trim(environment)) = 'production' AND NOT is_rollback AS is_attempt,
           lower(trim(status)) AS status, manual_interventions, pr_ids
    FROM read_parquet('deployments/*.parquet')
),
commits AS (
    SELECT team_id, committed_at::TIMESTAMP AS committed_at, reached_customer_at::TIMESTAMP AS reached_customer_at
    FROM read_parquet('commits/*.parquet')
),
pages AS (
    SELECT team_id, triggered_at::TIMESTAMP AS triggered_at, resolved_at::TIMESTAMP AS resolved_at
    FROM read_parquet('pages/*.parquet')
),
shifts AS (
    SELECT team_id, developer_id, shift_start::TIMESTAMP AS shift_start, shift_end::TIMESTAMP AS shift_end
    FROM read_parquet('oncall_shifts/*.parquet')
),
usage AS (
    SELECT developer_id, usage_date, active FROM read_parquet('ai_tool_usage/*.parquet')
),
-- The panel's weeks: those a default `ctsw run` covers (first to last week with any event, as
-- ctsw.ingest.discover finds them), up to the dbt horizon (the last week with telemetry other than on-call
-- rotas, which are scheduled ahead).
horizon AS (
    SELECT least((SELECT min(created_at) FROM pull_requests), (SELECT min(started_at) FROM deployments),
                 (SELECT min(committed_at) FROM commits), (SELECT min(triggered_at) FROM pages),
                 (SELECT min(shift_start) FROM shifts), (SELECT min(usage_date) FROM usage)) AS first_event,
           greatest((SELECT max(created_at) FROM pull_requests), (SELECT max(started_at) FROM deployments),
                    (SELECT max(committed_at) FROM commits), (SELECT max(triggered_at) FROM pages),
                    (SELECT max(usage_date) FROM usage)) AS last_event
),
weeks AS (
    SELECT w::DATE AS week_start, (w + INTERVAL 7 DAY)::DATE AS week_end
    FROM horizon, range(date_trunc('week', first_event)::TIMESTAMP,
                        date_trunc('week', last_event)::TIMESTAMP + INTERVAL 1 DAY, INTERVAL 7 DAY) t(w)
),
membership_weeks AS (
    SELECT *
    FROM (
        SELECT m.*, w.week_start, w.week_end,
               date_diff('day', greatest(m.start_date, w.week_start)::TIMESTAMP,
                         least(coalesce(m.end_date, w.week_end), w.week_end)::TIMESTAMP) AS days_in_week
        FROM floor_memberships m
        JOIN weeks w ON w.week_start < coalesce(m.end_date, w.week_end) AND w.week_end > m.start_date
    )
    WHERE days_in_week > 0
),
staffing AS (
    SELECT team_id, week_start,
           round(sum(CASE WHEN is_builder THEN fte * days_in_week / 7.0 ELSE 0 END), 9) AS builder_fte,
           count(DISTINCT developer_id) FILTER (WHERE is_builder) AS builders,
           count(DISTINCT developer_id) AS headcount,
           round(sum(fte * days_in_week / 7.0 * annual_loaded_cost_usd / 52.18), 6) AS dev_cost_usd
    FROM membership_weeks
    GROUP BY ALL
),
first_deployed AS (
    SELECT trim(pr) AS pr_id, min(finished_at) AS first_deployed_at
    FROM deployments, unnest(string_split(pr_ids, ';')) s(pr)
    WHERE is_attempt AND status = 'succeeded' AND finished_at IS NOT NULL AND trim(pr) <> ''
    GROUP BY ALL
),
shipped AS (
    SELECT p.team_id, coalesce(p.shipped_at, f.first_deployed_at) AS shipped_time, p.first_commit_at
    FROM pull_requests p LEFT JOIN first_deployed f USING (pr_id)
    WHERE coalesce(p.shipped_at, f.first_deployed_at) IS NOT NULL
),
shipped_weeks AS (
    SELECT team_id, date_trunc('week', shipped_time)::DATE AS week_start, count(*) AS prs_shipped,
           median(date_diff('second', first_commit_at, shipped_time) / 3600.0) AS dora_lead_time_hours
    FROM shipped GROUP BY ALL
),
merged_weeks AS (
    SELECT team_id, date_trunc('week', merged_at)::DATE AS week_start, count(*) AS prs_merged
    FROM pull_requests WHERE merged_at IS NOT NULL GROUP BY ALL
),
deployment_weeks AS (
    SELECT team_id, date_trunc('week', started_at)::DATE AS week_start,
           count(*) AS deployment_attempts,
           count(*) FILTER (WHERE status = 'succeeded') AS deployments,
           count(*) FILTER (WHERE status = 'rolled_back') AS rollbacks,
           count(*) FILTER (WHERE status IN ('failed', 'rolled_back')) AS change_failures,
           sum(manual_interventions) AS manual_interventions
    FROM deployments WHERE is_attempt GROUP BY ALL
),
commit_weeks AS (
    SELECT team_id, date_trunc('week', reached_customer_at)::DATE AS week_start, count(*) AS commits_shipped
    FROM commits WHERE reached_customer_at IS NOT NULL GROUP BY ALL
),
page_weeks AS (
    SELECT team_id, date_trunc('week', triggered_at)::DATE AS week_start, count(*) AS pages,
           median(date_diff('second', triggered_at, resolved_at) / 3600.0) AS dora_time_to_restore_hours
    FROM pages GROUP BY ALL
),
oncall_weeks AS (
    SELECT b.team_id, b.week_start, count(DISTINCT b.developer_id) AS oncall_builders
    FROM (SELECT DISTINCT team_id, developer_id, week_start, week_end FROM membership_weeks WHERE is_builder) b
    JOIN shifts s
      ON s.team_id = b.team_id AND s.developer_id = b.developer_id
     AND s.shift_start < b.week_end AND s.shift_end > b.week_start
    GROUP BY ALL
),
ai_weeks AS (
    SELECT m.team_id, date_trunc('week', u.usage_date)::DATE AS week_start,
           count(DISTINCT u.developer_id) AS ai_active_builders
    FROM usage u
    JOIN floor_memberships m
      ON m.is_builder AND m.developer_id = u.developer_id AND m.start_date <= u.usage_date
     AND (m.end_date IS NULL OR u.usage_date < m.end_date)
    WHERE u.active
    GROUP BY ALL
),
joined AS (
    SELECT s.team_id, s.week_start, t.org, t.architecture, t.delivery_unit,
           s.builder_fte, s.builders, s.headcount, s.dev_cost_usd,
           coalesce(mw.prs_merged, 0) AS prs_merged,
           coalesce(d.deployment_attempts, 0) AS deployment_attempts,
           coalesce(d.deployments, 0) AS deployments,
           coalesce(d.rollbacks, 0) AS rollbacks,
           coalesce(d.change_failures, 0) AS change_failures,
           coalesce(d.manual_interventions, 0) AS manual_interventions,
           coalesce(p.pages, 0) AS pages,
           coalesce(o.oncall_builders, 0) AS oncall_builders,
           coalesce(a.ai_active_builders, 0) AS ai_active_builders,
           coalesce(sw.prs_shipped, 0) AS prs_shipped,
           coalesce(c.commits_shipped, 0) AS commits_shipped,
           sw.dora_lead_time_hours,
           p.dora_time_to_restore_hours
    FROM staffing s
    JOIN weeks w USING (week_start)
    LEFT JOIN teams t USING (team_id)
    LEFT JOIN merged_weeks mw USING (team_id, week_start)
    LEFT JOIN shipped_weeks sw USING (team_id, week_start)
    LEFT JOIN deployment_weeks d USING (team_id, week_start)
    LEFT JOIN commit_weeks c USING (team_id, week_start)
    LEFT JOIN page_weeks p USING (team_id, week_start)
    LEFT JOIN oncall_weeks o USING (team_id, week_start)
    LEFT JOIN ai_weeks a USING (team_id, week_start)
),
with_units AS (
    SELECT *, CASE delivery_unit WHEN 'deployment' THEN deployments WHEN 'pull_request' THEN prs_shipped
                                 WHEN 'commit' THEN commits_shipped END AS units_delivered
    FROM joined
)
SELECT team_id, week_start, org, architecture, delivery_unit, builder_fte, builders, headcount, dev_cost_usd,
       prs_merged, prs_merged::DOUBLE / nullif(builder_fte, 0) AS cr_velocity,
       deployment_attempts, deployments, deployments::DOUBLE / nullif(builder_fte, 0) AS deploy_velocity,
       rollbacks, rollbacks::DOUBLE / nullif(deployment_attempts, 0) AS rollback_rate,
       manual_interventions,
       manual_interventions::DOUBLE / nullif(deployment_attempts, 0) AS interventions_per_deploy,
       pages, oncall_builders, pages::DOUBLE / nullif(oncall_builders, 0) AS pages_per_oncall_builder,
       ai_active_builders, ai_active_builders::DOUBLE / nullif(builders, 0) AS ai_usage_share,
       prs_shipped, commits_shipped, units_delivered,
       dev_cost_usd::DOUBLE / nullif(units_delivered, 0) AS cts_sw_usd,
       CASE WHEN coalesce(units_delivered, 0) = 0 THEN 'no_units_delivered' END AS cts_sw_null_reason,
       deployments AS dora_deployment_frequency, dora_lead_time_hours, change_failures,
       change_failures::DOUBLE / nullif(deployment_attempts, 0) AS dora_change_failure_rate,
       dora_time_to_restore_hours
FROM with_units;
