#!/usr/bin/env bash
# The full suite: every test on SQLite (including the multi-process region and
# the browser), then again on PostgreSQL (nodes on their own PostgreSQL databases).
# TONGBAN_TEST_DATABASES=sqlite|postgres runs one pass only.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=.venv/bin/python
export PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}"
passes=${TONGBAN_TEST_DATABASES:-"sqlite postgres"}
PG_URL=${TONGBAN_TEST_POSTGRES_URL:-postgres://postgres@127.0.0.1:5432/tongban}
status=0
for db in $passes; do
  echo "=== test pass: $db ==="
  if [ "$db" = postgres ]; then
    if ! "$PY" -c "import psycopg,sys; psycopg.connect('${PG_URL%/*}/postgres', connect_timeout=5).close()"; then
      echo "PostgreSQL is not reachable at ${PG_URL%/*} — the PostgreSQL pass cannot run" >&2
      exit 1
    fi
    DATABASE_URL="$PG_URL" TONGBAN_TEST_POSTGRES_URL="$PG_URL" "$PY" -m pytest -q -m "not browser" "$@" || status=$?
  else
    "$PY" -m pytest -q "$@" || status=$?
  fi
done
exit $status
