#!/usr/bin/env bash
# Fuzzes the API as a client sees it: builds the release binary, serves the demo data on a fresh
# SQLite file and then on a fresh PostgreSQL database (test clock on), and runs a pinned
# schemathesis against the spec the server itself serves (/openapi.yaml), once with an admin
# token and once with a processor token. Fails on any failing check and on any `panicked` line
# in a server log. Logs and reports stay under target/schemathesis/.
#
# Environment (all optional):
#   SUBREG_FUZZ_SECONDS       time budget of the admin run per database (default 150); the
#                             processor run gets a third of it
#   SUBREG_FUZZ_BACKENDS      "sqlite postgres" (default), or one of them
#   SUBREG_FUZZ_PG            PostgreSQL server URL without a database
#                             (default postgres://postgres@127.0.0.1:5432)
#   SUBREG_FUZZ_ARGS          extra arguments for `st run` (e.g. --seed 1, --max-examples 20)
set -euo pipefail
cd "$(dirname "$0")/.."

SCHEMATHESIS_VERSION=4.32.5
SPEC_VALIDATOR_VERSION=0.9.0
ADMIN_SECONDS=${SUBREG_FUZZ_SECONDS:-150}
PROCESSOR_SECONDS=$((ADMIN_SECONDS / 3 > 0 ? ADMIN_SECONDS / 3 : 1))
BACKENDS=${SUBREG_FUZZ_BACKENDS:-sqlite postgres}
PG=${SUBREG_FUZZ_PG:-postgres://postgres@127.0.0.1:5432}
OUT=target/schemathesis
VENV=target/venv
BIN=target/release/subreg
# Creating a webhook endpoint resolves the generated host name (the SSRF guard): schemathesis
# would make the server ask the machine's DNS resolver about arbitrary names, so those two
# operations are left out; every other webhook route is fuzzed.
EXCLUDE=(--exclude-operation-id createProcessorWebhook --exclude-operation-id createControllerWebhook)
CHECKS=not_a_server_error,status_code_conformance,content_type_conformance,response_schema_conformance

started=$SECONDS
step() { echo; echo "== schemathesis: $*"; }

step "python virtualenv ($VENV, schemathesis $SCHEMATHESIS_VERSION)"
if ! command -v python3 >/dev/null 2>&1 || ! python3 -c 'import ensurepip, venv' 2>/dev/null; then
  apt-get update -q
  DEBIAN_FRONTEND=noninteractive apt-get install -y -q python3 python3-venv
fi
if [ "$("$VENV/bin/st" --version 2>/dev/null || true)" != "schemathesis, version $SCHEMATHESIS_VERSION" ] \
  || ! "$VENV/bin/python" -c 'import openapi_spec_validator' 2>/dev/null; then
  rm -rf "$VENV"
  python3 -m venv "$VENV"
  "$VENV/bin/pip" install -q --disable-pip-version-check \
    "schemathesis==$SCHEMATHESIS_VERSION" "openapi-spec-validator==$SPEC_VALIDATOR_VERSION"
fi
"$VENV/bin/st" --version

step "openapi.yaml is valid OpenAPI 3.1"
"$VENV/bin/openapi-spec-validator" openapi.yaml

step "release build"
cargo build --release --quiet
rm -rf "$OUT"
mkdir -p "$OUT"
# schemathesis keeps a cache of its runs; under target/, not in the work tree.
cat >"$OUT/schemathesis.toml" <<'TOML'
[cache]
directory = "target/schemathesis-cache"
TOML

free_port() {
  "$VENV/bin/python" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

SERVER_PID=
PG_DB=
stop_server() {
  if [ -n "$SERVER_PID" ] && kill -0 "$SERVER_PID" 2>/dev/null; then
    kill -TERM "$SERVER_PID" 2>/dev/null || true
    for _ in $(seq 1 50); do kill -0 "$SERVER_PID" 2>/dev/null || break; sleep 0.2; done
    kill -KILL "$SERVER_PID" 2>/dev/null || true
    wait "$SERVER_PID" 2>/dev/null || true
  fi
  SERVER_PID=
}
quiet_psql() { PGOPTIONS="--client-min-messages=warning" psql "$@"; }
drop_pg_db() {
  if [ -n "$PG_DB" ]; then
    quiet_psql "$PG/postgres" -qc "DROP DATABASE IF EXISTS $PG_DB WITH (FORCE)" >/dev/null 2>&1 || true
  fi
  PG_DB=
}
cleanup() { stop_server; drop_pg_db; }
trap cleanup EXIT

failed=()
fuzz() {
  local backend=$1 database_url=$2
  local log="$OUT/server-$backend.log" port before=${#failed[@]}
  port=$(free_port)
  export SUBREG_DATABASE_URL=$database_url
  export SUBREG_BIND=127.0.0.1:$port
  export SUBREG_PUBLIC_URL=http://127.0.0.1:$port
  export SUBREG_JWT_SECRET
  SUBREG_JWT_SECRET=$("$VENV/bin/python" -c 'import secrets; print(secrets.token_hex(32))')
  export SUBREG_TEST_CLOCK=1
  # The evidence log's signing key (PostgreSQL has no default): a new one per run.
  export SUBREG_LOG_KEY="$OUT/log-$backend.key"
  rm -f "$SUBREG_LOG_KEY"
  "$BIN" keygen "$SUBREG_LOG_KEY" >/dev/null
  # Nothing may leave the machine: the dispatcher stays off.
  export SUBREG_WEBHOOK_DISPATCHER=0
  export SUBREG_LOG=info

  step "$backend: subreg serve --demo on 127.0.0.1:$port (log: $log)"
  "$BIN" serve --demo >"$log" 2>&1 &
  SERVER_PID=$!
  local ready=
  for _ in $(seq 1 100); do
    if "$VENV/bin/python" -c 'import sys, urllib.request; urllib.request.urlopen(sys.argv[1], timeout=2)' \
      "http://127.0.0.1:$port/readyz" >/dev/null 2>&1; then ready=1; break; fi
    kill -0 "$SERVER_PID" 2>/dev/null || break
    sleep 0.2
  done
  if [ -z "$ready" ]; then
    echo "subreg did not become ready on $backend" >&2
    tail -n 50 "$log" >&2
    failed+=("$backend: server did not start")
    stop_server
    return
  fi
  local admin processor
  admin=$("$BIN" token --role admin --org subreg --ttl 3600)
  processor=$("$BIN" token --role processor --org timengo-dpg --ttl 3600)

  local role token seconds
  for role in admin processor; do
    if [ "$role" = admin ]; then token=$admin; seconds=$ADMIN_SECONDS; else token=$processor; seconds=$PROCESSOR_SECONDS; fi
    step "$backend: st run as $role for ${seconds}s"
    # shellcheck disable=SC2086
    if ! "$VENV/bin/st" --config-file "$OUT/schemathesis.toml" run "http://127.0.0.1:$port/openapi.yaml" \
      --url "http://127.0.0.1:$port" \
      -H "Authorization: Bearer $token" \
      --checks "$CHECKS" \
      --phases examples,coverage,fuzzing,stateful \
      --max-time "$seconds" \
      --workers 1 \
      --request-timeout 10 \
      --suppress-health-check all \
      --output-truncate false \
      --report junit,ndjson --report-dir "$OUT/report-$backend-$role" \
      --generation-database target/schemathesis-examples \
      "${EXCLUDE[@]}" ${SUBREG_FUZZ_ARGS:-} \
      >"$OUT/st-$backend-$role.txt" 2>&1; then
      failed+=("$backend/$role: schemathesis reported failures ($OUT/st-$backend-$role.txt)")
      tail -n 80 "$OUT/st-$backend-$role.txt"
    else
      tail -n 15 "$OUT/st-$backend-$role.txt"
    fi
  done

  stop_server
  if grep -q 'panicked' "$log"; then
    echo "--- panics in $log ($(grep -c 'panicked' "$log") lines):"
    grep -A1 'panicked' "$log" | head -n 20 || true
    failed+=("$backend: the server log has panics ($log)")
  fi
  if [ "${#failed[@]}" -gt "$before" ]; then
    echo "--- tail of $log"
    tail -n 40 "$log"
  fi
}

for backend in $BACKENDS; do
  case $backend in
    sqlite)
      rm -f "$OUT"/fuzz.db*
      fuzz sqlite "sqlite://$OUT/fuzz.db"
      ;;
    postgres)
      PG_DB="subreg_fuzz_$$"
      quiet_psql "$PG/postgres" -qc "DROP DATABASE IF EXISTS $PG_DB WITH (FORCE)" >/dev/null
      quiet_psql "$PG/postgres" -qc "CREATE DATABASE $PG_DB" >/dev/null
      fuzz postgres "$PG/$PG_DB"
      drop_pg_db
      ;;
    *)
      echo "unknown backend $backend (sqlite, postgres)" >&2
      exit 2
      ;;
  esac
done

step "done in $((SECONDS - started)) s"
if [ "${#failed[@]}" -gt 0 ]; then
  printf 'FAILED: %s\n' "${failed[@]}" >&2
  exit 1
fi
echo "schemathesis found nothing on: $BACKENDS"
