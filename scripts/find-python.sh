#!/usr/bin/env bash
# Prints the path of a Python >= 3.12 interpreter (Django 6 needs it).
# Looks on PATH first, then in pyenv's version folders.
set -u
ok() { "$1" -c 'import sys; sys.exit(0 if sys.version_info >= (3, 12) else 1)' >/dev/null 2>&1; }
for p in "${PYTHON:-}" python3.13 python3.12 python3; do
  [ -n "$p" ] || continue
  path=$(command -v "$p" 2>/dev/null) || continue
  if ok "$path"; then echo "$path"; exit 0; fi
done
for p in "${PYENV_ROOT:-$HOME/.pyenv}"/versions/3.1[2-9]*/bin/python3; do
  if [ -x "$p" ] && ok "$p"; then echo "$p"; exit 0; fi
done
echo "No Python >= 3.12 found (Django 6 requires it). Install python3.12 or set PYTHON=..." >&2
exit 1
