#!/usr/bin/env bash
# The feed alone against nginx serving the same bytes: benches/reads_vs_nginx.sh restricted to
# the feed (FEED_BENCH_SECONDS=5, FEED_BENCH_PROCESSOR=eg-netblanket). The full bench covers
# every public read.
set -euo pipefail
READS_BENCH_SECONDS="${FEED_BENCH_SECONDS:-${READS_BENCH_SECONDS:-5}}" \
  READS_BENCH_PROCESSOR="${FEED_BENCH_PROCESSOR:-${READS_BENCH_PROCESSOR:-eg-netblanket}}" \
  READS_BENCH_ONLY=feed \
  exec "$(dirname "$0")/reads_vs_nginx.sh"
