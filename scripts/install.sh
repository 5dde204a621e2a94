#!/usr/bin/env bash
# Create .venv with Python >= 3.12 and install the pinned dependencies + the package.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ ! -x .venv/bin/python ]; then
  python=$(scripts/find-python.sh)
  echo "creating .venv with $python"
  "$python" -m venv .venv
fi
.venv/bin/python -m pip install --quiet --disable-pip-version-check --upgrade pip
.venv/bin/python -m pip install --quiet --disable-pip-version-check -r requirements.lock
.venv/bin/python -m pip install --quiet --disable-pip-version-check --no-deps -e .
echo "installed: $(.venv/bin/python --version), tongban $(.venv/bin/python -c 'import tongban; print(tongban.__version__)')"
