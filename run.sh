#!/usr/bin/env bash
# One entry point on a fresh machine: creates .venv and installs ctsw on first use.
#   bash run.sh demo    simulate 200 teams x 104 weeks, run the whole pipeline headless, print the results
#   bash run.sh test    lint, dbt parse, Dagster definitions load, pytest
#   bash run.sh ui      open the Dagster UI on the same data (http://127.0.0.1:3000)
#   bash run.sh ctsw …  any ctsw subcommand (simulate, run, summary, demo)
#   bash run.sh bench … the benchmark (bench/run.py; e.g. --sizes small,default,scale), see docs/performance.md
set -euo pipefail
cd "$(dirname "$0")"
VENV=.venv

ensure_env() {
  [ -x "$VENV/bin/python" ] || python3 -m venv "$VENV"
  local stamp="$VENV/.ctsw-installed"
  if [ ! -f "$stamp" ] || [ pyproject.toml -nt "$stamp" ]; then
    echo "installing ctsw and its dependencies into $VENV (first run: about a minute; log: $VENV/install.log)"
    if ! { "$VENV/bin/python" -m pip install --upgrade pip && "$VENV/bin/python" -m pip install -e ".[dev,bench]"; } \
        > "$VENV/install.log" 2>&1; then
      tail -n 30 "$VENV/install.log" >&2
      echo "installation failed; full log: $VENV/install.log" >&2
      exit 1
    fi
    touch "$stamp"
  fi
  export PATH="$PWD/$VENV/bin:$PATH"
  local data="${CTSW_DATA_DIR:-data}"
  [[ "$data" = /* ]] || data="$PWD/$data"  # an absolute CTSW_DATA_DIR is used as it is
  export DAGSTER_HOME="${DAGSTER_HOME:-$data/dagster_home}"
  mkdir -p "$DAGSTER_HOME"
}

cmd="${1:-demo}"
shift || true
ensure_env
case "$cmd" in
  demo) exec ctsw demo "$@" ;;
  ui) export DAGSTER_EMIT_PARTITION_SUBSET_IN_PLANNED_EVENTS=1  # one planned event per run, not per week
      export DAGSTER_EVENT_BATCH_SIZE=1000  # a run's materialisations stored in batches (ctsw/event_log.py)
      exec dagster dev -w workspace.yaml -h 127.0.0.1 -p "${PORT:-3000}" "$@" ;;
  ctsw) exec ctsw "$@" ;;
  bench) exec python -m bench.run "$@" ;;
  test)
    ruff check .
    bash tests/ui/ensure_chromium.sh
    tmp=$(mktemp -d)
    CTSW_DUCKDB_PATH="$tmp/parse.duckdb" dbt parse --quiet --project-dir dbt_project --profiles-dir dbt_project \
      --target-path "$tmp/target"
    CTSW_DATA_DIR="$tmp/data" python -c "from orchestration.definitions import defs; defs.validate_loadable(defs); print('definitions load:', len(list(defs.resolve_all_asset_keys())), 'assets')"
    rm -rf "$tmp"
    exec pytest -q "$@"
    ;;
  *) echo "usage: bash run.sh demo|test|ui|bench|ctsw <args>" >&2; exit 2 ;;
esac
