#!/usr/bin/env bash
# Lints openapi.yaml as client generators and API portals read it: Redocly CLI with its
# recommended ruleset and Spectral with spectral:oas, pinned npm packages installed under
# target/spec-lint. Fails on any error (warnings are printed, not fatal).
set -euo pipefail
cd "$(dirname "$0")/.."

REDOCLY_VERSION=2.77.0
SPECTRAL_VERSION=6.16.3
DIR=target/spec-lint

if ! command -v npm >/dev/null 2>&1; then
  apt-get update -q
  DEBIAN_FRONTEND=noninteractive apt-get install -y -q nodejs npm
fi
installed() {
  node -e 'const [d, p, v] = process.argv.slice(1);
           process.exit(require(`${d}/node_modules/${p}/package.json`).version === v ? 0 : 1)' \
    "$PWD/$DIR" "$1" "$2" 2>/dev/null
}
if ! installed @redocly/cli "$REDOCLY_VERSION" || ! installed @stoplight/spectral-cli "$SPECTRAL_VERSION"; then
  rm -rf "$DIR"
  mkdir -p "$DIR"
  (cd "$DIR" && npm init -y >/dev/null && npm install --silent --no-audit --no-fund \
    "@redocly/cli@$REDOCLY_VERSION" "@stoplight/spectral-cli@$SPECTRAL_VERSION")
fi
echo 'extends: ["spectral:oas"]' > "$DIR/.spectral.yaml"

echo "-- redocly lint (recommended)"
REDOCLY_TELEMETRY=off REDOCLY_SUPPRESS_UPDATE_NOTICE=true \
  "$DIR/node_modules/.bin/redocly" lint openapi.yaml --format=summary
echo "-- spectral lint (spectral:oas)"
"$DIR/node_modules/.bin/spectral" lint openapi.yaml --ruleset "$DIR/.spectral.yaml" \
  --fail-severity error -f text
