#!/usr/bin/env bash
# Install everything and run the main job on the embedded default store: the demo company.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
export SALESPILOT_DB="${SALESPILOT_DB:-$PWD/salespilot.duckdb}"
.venv/bin/salespilot demo --size small --replace
.venv/bin/salespilot status
.venv/bin/salespilot kpi leads opportunities win_rate revenue new_customers cac --grain quarter
