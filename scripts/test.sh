#!/usr/bin/env bash
# Install what the tests need, then run linters, type checks and the whole test suite.
#
# Works on a fresh Debian machine with Python >= 3.11: creates .venv, installs the
# package with its test extras from the package index, installs the Debian packages
# the tests start for real when missing, and runs ruff, mypy and pytest.
# Extra arguments go to pytest (e.g. `bash scripts/test.sh -k demo`).
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/install.sh test

# Debian packages the test tiers start for real: dciodvfy (DICOM validation),
# Chromium (browser tests), Orthanc + DICOMweb plugin (DICOMweb tests), PostgreSQL
# (gradebook tests).
DEBIAN_PACKAGES=(dicom3tools chromium orthanc orthanc-dicomweb postgresql)
missing=()
for pkg in "${DEBIAN_PACKAGES[@]}"; do
    dpkg -s "$pkg" >/dev/null 2>&1 || missing+=("$pkg")
done
if [ ${#missing[@]} -gt 0 ]; then
    echo "installing Debian packages: ${missing[*]}"
    SUDO=""
    [ "$(id -u)" = 0 ] || SUDO="sudo"
    # Install services without starting them: the tests start their own, on loopback.
    if [ ! -e /usr/sbin/policy-rc.d ]; then
        printf '#!/bin/sh\nexit 101\n' | $SUDO tee /usr/sbin/policy-rc.d >/dev/null
        $SUDO chmod +x /usr/sbin/policy-rc.d
        trap '$SUDO rm -f /usr/sbin/policy-rc.d' EXIT
    fi
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends \
        "${missing[@]}" >/dev/null
fi

echo "== ruff"
.venv/bin/ruff check .
.venv/bin/ruff format --check .
echo "== mypy"
.venv/bin/mypy
echo "== pytest"
# loadfile: a test module runs on one worker, so its servers (Voila, Orthanc) start
# once and tests that follow a learner in order (quiz, resume, gradebook) share them.
.venv/bin/pytest -n 2 --dist loadfile "$@"
