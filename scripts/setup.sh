#!/usr/bin/env bash
# Create .venv and install SalesPilot with its development tools and test extras. Needs only Python 3.11+.
set -euo pipefail
cd "$(dirname "$0")/.."
PY="${PYTHON:-python3}"
if ! "$PY" -c 'import sys; sys.exit(sys.version_info < (3, 11))'; then
  echo "SalesPilot needs Python 3.11 or newer; $PY is $("$PY" --version 2>&1)." >&2
  exit 1
fi
if [ ! -x .venv/bin/python ]; then
  "$PY" -m venv .venv
fi
.venv/bin/python -m pip install --quiet --upgrade pip
.venv/bin/python -m pip install --quiet -e '.[dev,postgres,spark]'
