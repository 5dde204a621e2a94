#!/usr/bin/env bash
# The accessibility test injects axe-core (https://github.com/dequelabs/axe-core) into the
# pages it checks. It comes from the npm registry, pinned, into the git-ignored var/npm/.
# Without npm (or the network) it says so and exits 0: the test then skips locally and
# fails under CI=true, like the browser tests without Chromium.
set -uo pipefail
cd "$(dirname "$0")/.."
VERSION=4.14.1
PREFIX=var/npm
FILE=$PREFIX/node_modules/axe-core/axe.min.js
if [ -f "$FILE" ] && grep -q "\"version\": \"$VERSION\"" "$PREFIX/node_modules/axe-core/package.json" 2>/dev/null; then
  exit 0
fi
if ! command -v npm >/dev/null 2>&1; then
  echo "npm is missing: cannot fetch axe-core@$VERSION (apt-get install npm); the accessibility test fails under CI without it" >&2
  exit 0
fi
mkdir -p "$PREFIX"
echo "fetching axe-core@$VERSION from the npm registry into $PREFIX"
npm install --prefix "$PREFIX" --no-save --no-audit --no-fund --ignore-scripts --loglevel=error "axe-core@$VERSION" >/dev/null \
  || echo "could not fetch axe-core@$VERSION; the accessibility test fails under CI without it" >&2
exit 0
