#!/usr/bin/env bash
# Install everything, run the main job on the embedded default store (the demo company), then
# serve the dashboard on it (http://127.0.0.1:8000/; the admin's password is printed once).
# Pass --no-serve to stop after the headline KPIs.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
export SALESPILOT_DB="${SALESPILOT_DB:-$PWD/salespilot.duckdb}"
.venv/bin/salespilot demo --size small --replace
.venv/bin/salespilot status
.venv/bin/salespilot kpi leads opportunities win_rate revenue new_customers cac --grain quarter
if [[ "${1:-}" != "--no-serve" ]]; then
  echo "Opening the dashboard on the demo company (Ctrl-C stops it)."
  exec .venv/bin/salespilot serve --insecure-cookies
fi
