#!/usr/bin/env bash
# Instructions per request of every public read, counted by callgrind: repeatable on a loaded
# machine where requests/s are not (issue 14). Compares builds of subreg, e.g. before/after.
#
#   benches/reads_callgrind.sh [BINARY...]     (default: target/release/subreg;
#                                               READS_CALLGRIND_N=300 requests per row,
#                                               READS_BENCH_PROCESSOR=eg-netblanket)
#
# For each binary: starts `BINARY serve --demo` on a fresh SQLite file under
# `valgrind --tool=callgrind` on a free 127.0.0.1 port, warms each read up, then per read and
# answer (200; 304 with the read's own ETag in If-None-Match) zeroes the counters, sends N
# requests over one keep-alive connection, dumps, and prints instructions/request (all threads
# of the server). Needs valgrind (callgrind_control) and python3. Nothing leaves loopback.
set -euo pipefail
cd "$(dirname "$0")/.."

n="${READS_CALLGRIND_N:-300}"
pid_name="${READS_BENCH_PROCESSOR:-eg-netblanket}"
binaries=("$@")
[ ${#binaries[@]} -gt 0 ] || binaries=("${CARGO_TARGET_DIR:-target}/release/subreg")
command -v callgrind_control >/dev/null || { echo "needs valgrind" >&2; exit 1; }

work="$(mktemp -d)"
server=""
cleanup() {
  [ -n "$server" ] && kill "$server" 2>/dev/null || true
  wait 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

free_port() {
  python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

for binary in "${binaries[@]}"; do
  run="$work/run-$RANDOM"
  mkdir -p "$run"
  port="$(free_port)"
  SUBREG_DATABASE_URL="sqlite://$run/subreg.db" \
    SUBREG_BIND="127.0.0.1:$port" \
    SUBREG_PUBLIC_URL="http://127.0.0.1:$port" \
    SUBREG_JWT_SECRET="feed-bench-secret-that-is-long-enough" \
    SUBREG_LOG=warn \
    valgrind --tool=callgrind --callgrind-out-file="$run/callgrind.out.%p" \
    "$binary" serve --demo >"$run/serve.log" 2>&1 &
  server=$!
  for _ in $(seq 1 600); do
    curl -fs "http://127.0.0.1:$port/healthz" >/dev/null 2>&1 && break
    sleep 0.2
  done
  echo "$binary"
  python3 - "$port" "$pid_name" "$n" "$server" "$run" <<'EOF'
import glob, http.client, os, re, subprocess, sys, time

port, pid_name, n, server, run = int(sys.argv[1]), sys.argv[2], int(sys.argv[3]), sys.argv[4], sys.argv[5]
conn = http.client.HTTPConnection("127.0.0.1", port)

def get(path, headers=None):
    conn.request("GET", path, headers=headers or {})
    reply = conn.getresponse()
    return reply.status, dict((k.lower(), v) for k, v in reply.getheaders()), reply.read()

feed = f"/v1/processors/{pid_name}/feed.atom"
_, _, body = get(feed)
change = re.search(rf"/processors/{pid_name}/changes/[^?\"&]+".encode(), body)
reads = [("feed", feed), ("page", f"/processors/{pid_name}"), ("index", "/processors"),
         ("json", f"/v1/processors/{pid_name}/subprocessors"),
         ("csv", f"/v1/processors/{pid_name}/subprocessors.csv")]
if change:
    reads.append(("change", change.group(0).decode()))
# Reads that go to the database every time (no cached body): a list page and the JSON of the
# processor, for what the store's queries cost.
reads += [("json?limit", f"/v1/processors/{pid_name}/subprocessors?limit=5"),
          ("processor", f"/v1/processors/{pid_name}")]

def total_ir():
    # Every thread's dump since the last zeroing; the newest dump files are read and removed.
    subprocess.run(["callgrind_control", "-d", server], check=True, capture_output=True)
    time.sleep(0.5)
    total = 0
    for path in glob.glob(os.path.join(run, "callgrind.out.*")):
        with open(path, errors="replace") as f:
            for line in f:
                if line.startswith("summary:") or line.startswith("totals:"):
                    total += int(line.split()[1])
                    break
        os.remove(path)
    return total

# Everything warmed up first (start-up work, caches, lazily built statics), so the first row
# measures the same steady state as the last.
for name, path in reads:
    for _ in range(30):
        _, headers, _ = get(path)
        if headers.get("etag"):
            get(path, {"If-None-Match": headers["etag"]})

print(f"{'read':10} {'answer':6} {'bytes':>8} {'instructions/request':>22}")
for name, path in reads:
    status, headers, body = get(path)
    etag = headers.get("etag")
    for answer in (200, 304):
        if answer == 304 and not etag:
            print(f"{name:10} {answer:<6} {len(body):>8} {'no ETag':>22}")
            continue
        h = {"If-None-Match": etag} if answer == 304 else {}
        for _ in range(20):
            got, _, _ = get(path, h)
        if got != answer:
            print(f"{name:10} {answer:<6} {len(body):>8} {'got ' + str(got):>22}")
            continue
        subprocess.run(["callgrind_control", "-z", server], check=True, capture_output=True)
        for _ in range(n):
            get(path, h)
        ir = total_ir()
        print(f"{name:10} {answer:<6} {len(body):>8} {ir / n:>22,.0f}")
EOF
  kill "$server" 2>/dev/null || true
  wait "$server" 2>/dev/null || true
  server=""
done
