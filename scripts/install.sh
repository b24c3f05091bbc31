#!/usr/bin/env bash
# Create .venv (if missing) and install teachingfiles into it, editable.
# Usage: bash scripts/install.sh [EXTRA]   e.g. `bash scripts/install.sh test`
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
    "$PYTHON" -m venv .venv
fi
spec="."
[ $# -gt 0 ] && spec=".[$1]"
.venv/bin/python -m pip install --quiet --disable-pip-version-check -e "$spec"
