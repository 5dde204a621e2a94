#!/usr/bin/env bash
# The full suite: every test on SQLite (including the multi-process regions and the
# browser) and every test but the browser's on PostgreSQL (nodes on their own PostgreSQL
# databases). The two passes run side by side, each in its own pytest with
# TONGBAN_TEST_WORKERS pytest-xdist workers (default 2; 0 = none), its own loopback port
# range and its own databases; tests sharing a live region stay on one worker
# (--dist loadgroup, see tests/conftest.py). Each pass writes test-artifacts/logs/<pass>.log,
# printed when both have ended; the exit status is a failure if either pass fails.
# TONGBAN_TEST_DATABASES=sqlite|postgres runs one pass only, its output shown as it goes.
# Arguments are passed to pytest.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=.venv/bin/python
export PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}"
passes=${TONGBAN_TEST_DATABASES:-"sqlite postgres"}
PG_URL=${TONGBAN_TEST_POSTGRES_URL:-postgres://postgres@127.0.0.1:5432/tongban}
workers=${TONGBAN_TEST_WORKERS:-2}
LOGS=test-artifacts/logs

xdist=()
if [ "$workers" != 0 ]; then
  xdist=(-n "$workers" --dist loadgroup)
fi

# one pass: its own port range (tests/live_regions.py), PostgreSQL databases of its own
run_pass() {
  local db=$1
  shift
  if [ "$db" = postgres ]; then
    TONGBAN_TEST_PORTS=12000-19999 DATABASE_URL="$PG_URL" TONGBAN_TEST_POSTGRES_URL="$PG_URL" \
      "$PY" -m pytest -q -m "not browser" "${xdist[@]}" "$@"
  else
    TONGBAN_TEST_PORTS=20000-31999 "$PY" -m pytest -q "${xdist[@]}" "$@"
  fi
}

for db in $passes; do
  case $db in
    sqlite) ;;
    postgres)
      if ! "$PY" -c "import psycopg,sys; psycopg.connect('${PG_URL%/*}/postgres', connect_timeout=5).close()"; then
        echo "PostgreSQL is not reachable at ${PG_URL%/*} — the PostgreSQL pass cannot run" >&2
        exit 1
      fi
      ;;
    *) echo "unknown test pass: $db (sqlite or postgres)" >&2; exit 2 ;;
  esac
done

count=$(wc -w <<<"$passes")
if [ "$count" = 1 ]; then
  echo "=== test pass: $passes ==="
  run_pass $passes "$@"
  exit
fi

# both passes at once, each in its own process group (so that Ctrl-C reaches pytest,
# which then stops its regions)
set -m
mkdir -p "$LOGS"
declare -A pid
started=$(date +%s)
for db in $passes; do
  echo "=== test pass: $db (started; log: $LOGS/$db.log) ==="
  run_pass "$db" "$@" >"$LOGS/$db.log" 2>&1 &
  pid[$db]=$!
done
stop() {
  for p in "${pid[@]}"; do kill -INT -- "-$p" 2>/dev/null || true; done
}
trap stop INT TERM

status=0
declare -A rc
while [ ${#pid[@]} -gt 0 ]; do
  done_pid= code=0
  wait -n -p done_pid "${pid[@]}" || code=$?
  [ -n "${done_pid:-}" ] || continue # a signal interrupted the wait: the passes are stopping
  for db in "${!pid[@]}"; do
    if [ "${pid[$db]}" = "$done_pid" ]; then
      rc[$db]=$code
      unset "pid[$db]"
      echo "=== test pass: $db ended after $(($(date +%s) - started)) s (exit $code) ==="
    fi
  done
done
trap - INT TERM
for db in $passes; do
  echo
  echo "=== test pass: $db — output ==="
  cat "$LOGS/$db.log"
done
echo
for db in $passes; do
  summary=$(grep -E "^(=+ )?([0-9]+ [a-z]+,? )+.*in [0-9.]+s|no tests ran" "$LOGS/$db.log" | tail -1 || true)
  if [ "${rc[$db]}" = 0 ]; then
    echo "=== test pass: $db — ok: ${summary:-see $LOGS/$db.log} ==="
  else
    echo "=== test pass: $db — FAILED (exit ${rc[$db]}): ${summary:-see $LOGS/$db.log} ===" >&2
    status=1
  fi
done
exit $status
