#!/usr/bin/env bash
# Install what the tests need, then run linters, type checks and the whole test suite.
#
# Works on a fresh Debian machine with Python >= 3.11: creates .venv, installs the
# package with its test extras from the package index, installs the Debian tools the
# tests use (dicom3tools for dciodvfy) when missing, and runs ruff, mypy and pytest.
# Extra arguments go to pytest (e.g. `bash scripts/test.sh -k demo`).
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/install.sh test

DEBIAN_TOOLS=(dciodvfy:dicom3tools)
missing=()
for pair in "${DEBIAN_TOOLS[@]}"; do
    command -v "${pair%%:*}" >/dev/null 2>&1 || missing+=("${pair##*:}")
done
if [ ${#missing[@]} -gt 0 ]; then
    echo "installing Debian packages: ${missing[*]}"
    SUDO=""
    [ "$(id -u)" = 0 ] || SUDO="sudo"
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi

echo "== ruff"
.venv/bin/ruff check .
.venv/bin/ruff format --check .
echo "== mypy"
.venv/bin/mypy
echo "== pytest"
.venv/bin/pytest -n 2 --dist loadgroup "$@"
