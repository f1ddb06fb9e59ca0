#!/usr/bin/env bash
# schemathesis against the live server: starts `reelgraph serve` (the binary
# given as $1) on 127.0.0.1 with a port the OS picks and a temporary data
# directory, runs schemathesis on its /v1/openapi.json with the admin key it
# printed, and stops it with SIGTERM. A bounded number of examples per
# operation (EXAMPLES, default 25) keeps it to a few minutes.
# Checks: no 5xx, and every response conforms to the document (status
# code, content type, body schema). One worker: with two (threads), the
# machine's Python 3.11.7 sometimes failed a run with "AST constructor
# recursion depth mismatch" from hypothesis parsing source in two threads
# at once (CPython gh-106905, fixed in 3.11.8).
#   scripts/schemathesis.sh target/debug/reelgraph .venv-schemathesis/bin/st
set -euo pipefail

server=${1:?usage: schemathesis.sh SERVER_BINARY ST_BINARY}
st=${2:?usage: schemathesis.sh SERVER_BINARY ST_BINARY}
examples=${EXAMPLES:-25}

data=$(mktemp -d)
out="$data/stdout"
pid=
cleanup() {
  if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then
    kill -TERM "$pid"
    wait "$pid" || true
  fi
  rm -rf "$data"
}
trap cleanup EXIT

# Claims wait at most 200 ms here: schemathesis sends many, one at a time.
RUST_LOG=warn "$server" serve --addr 127.0.0.1:0 --data-dir "$data/data" --log-format text --task-max-wait 200ms > "$out" &
pid=$!

# The server prints its URL and, at first start, the admin key.
url= key=
for _ in $(seq 1 300); do
  url=$(grep -oE 'http://[0-9.]+:[0-9]+' "$out" | head -n1 || true)
  key=$(grep -oE 'rg_[A-Za-z0-9_-]+' "$out" | head -n1 || true)
  [ -n "$url" ] && [ -n "$key" ] && break
  kill -0 "$pid" 2>/dev/null || { echo "the server exited before printing its URL and key"; cat "$out"; exit 1; }
  sleep 0.1
done
[ -n "$url" ] && [ -n "$key" ] || { echo "the server printed no URL and key in 30 s"; cat "$out"; exit 1; }
echo "schemathesis against $url ($examples examples per operation)"

"$st" run "$url/v1/openapi.json" \
  --header "Authorization: Bearer $key" \
  --checks not_a_server_error,status_code_conformance,content_type_conformance,response_schema_conformance \
  --max-examples "$examples" \
  --seed 14 \
  --generation-database none \
  --workers 1 \
  --no-color
