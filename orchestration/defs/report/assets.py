"""The HTML report as an asset: one self-contained file per as-of week, its plots in the asset's metadata."""


import base64
import io
from datetime import timedelta
from pathlib import Path

import dagster as dg

from orchestration.defs.models import defs as models_defs
from orchestration.partitions import DUCKDB_POOL, SINGLE_RUN, WEEKLY
from orchestration.resources import CtswResource, utc_window

REPORT_KEY = dg.AssetKey(["report", "ctsw_report"])
# Every model asset, whatever the models stage defines (new models join the report's upstream automatically).
MODEL_KEYS = sorted({k for a in models_defs.assets for k in a.keys}, key=lambda k: k.to_user_string())
THUMBNAIL_WIDTH = 640  # metadata images live in the run history: keep them small


class ReportConfig(dg.Config):
    out_dir: str = ""  # default: `reports/` next to the DuckDB file
    min_team_builders: int = 0  # 0: CTSW_MIN_TEAM_BUILDERS (default 3)


def thumbnail(png: bytes, width: int = THUMBNAIL_WIDTH) -> bytes:
    """A smaller palette PNG of a figure for metadata (the HTML file keeps the full-size one)."""
    from PIL import Image

    img = Image.open(io.BytesIO(png)).convert("RGB")
    if img.width > width:
        img = img.resize((width, round(img.height * width / img.width)), Image.Resampling.LANCZOS)
    out = io.BytesIO()
    img.quantize(colors=64).save(out, format="PNG", optimize=True)
    return out.getvalue()


def figure_markdown(title: str, png: bytes, reading: str) -> str:
    b64 = base64.b64encode(thumbnail(png)).decode("ascii")
    return f"![{title}](data:image/png;base64,{b64})\n\n{reading}"


def _check_results(context: dg.AssetExecutionContext):
    from ctsw.report.checks import latest_check_results

    graph = context.job_def.asset_layer.asset_graph  # the run's job: every check it can evaluate
    keys = list(graph.asset_check_keys)
    descriptions = {k: graph.get_check_spec(k).description for k in keys}
    return latest_check_results(context.instance, keys, descriptions)


@dg.asset(
    key=REPORT_KEY,
    deps=MODEL_KEYS,
    group_name="report",
    kinds={"python", "html", "duckdb"},
    partitions_def=WEEKLY,
    backfill_policy=SINGLE_RUN,
    pool=DUCKDB_POOL,
    description=(
        "Self-contained HTML report for the run's last week (the as-of week): CTS-SW per org with the team "
        "spread, DORA keys, driver ranking, AI adoption, the AI effect side by side (naive, HPJ, Anderson-Hsiao), "
        "the event study when present, capacity freed and data quality. Teams below the privacy minimum of "
        "builders (CTSW_MIN_TEAM_BUILDERS, default 3) are never shown individually. Written to "
        "`<data>/reports/ctsw-report-<as-of week>.html`; also `ctsw report`."),
)
def report(context: dg.AssetExecutionContext, ctsw: CtswResource, config: ReportConfig) -> dg.MaterializeResult:
    from ctsw.report import build

    as_of = (utc_window(context.partition_time_window).end - timedelta(weeks=1)).date()
    out_dir = Path(config.out_dir) if config.out_dir else Path(ctsw.duckdb_path).parent / "reports"
    with ctsw.connect() as con:
        result = build(con, out_dir / f"ctsw-report-{as_of}.html", out_dir.parent, as_of=as_of,
                       min_builders=config.min_team_builders or None, landing_dir=Path(ctsw.landing_dir),
                       checks=_check_results(context))
    data = result.data
    context.log.info(f"report written to {result.path}")
    metadata = {
        "path": dg.MetadataValue.path(str(result.path)),
        "as_of_week": str(data.as_of),
        "data_range": f"{data.first_week} .. {data.last_week}",
        "teams": data.n_teams,
        "teams_not_shown_individually": len(data.teams_below_minimum),
        "size_kb": round(len(result.rendered.html) / 1024),
    }
    # The plots go on the as-of week's materialization only: a run over many weeks records one event per week.
    context.add_asset_metadata(
        {f"plot: {fig.title}": dg.MetadataValue.md(figure_markdown(fig.title, fig.png, fig.reading))
         for fig in result.rendered.figures},
        partition_key=context.partition_key_range.end,
    )
    return dg.MaterializeResult(metadata=metadata)
