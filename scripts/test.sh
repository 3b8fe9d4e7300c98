#!/usr/bin/env bash
# The whole test suite: lint, types, tests. Same command locally and in CI.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
.venv/bin/ruff check src tests benchmarks
.venv/bin/ruff format --check src tests benchmarks
.venv/bin/mypy
.venv/bin/python -m pytest -q -p no:cacheprovider "$@"
