#!/usr/bin/env bash
# Every public read against nginx serving the same bytes as static files.
#
#   benches/reads_vs_nginx.sh      (READS_BENCH_SECONDS=5, READS_BENCH_ROUNDS=1,
#                                   READS_BENCH_PROCESSOR=eg-netblanket, READS_BENCH_ONLY=all)
#
# Installs wrk and nginx with apt-get when missing, builds the release binary, starts
# `subreg serve --demo` and nginx on free 127.0.0.1 ports (everything in a temp dir), fetches
# each read from subreg once and gives nginx those exact bytes, then runs `wrk -t2 -c64`
# against each, subreg and nginx one after the other (interleaved, resource by resource): a
# plain GET (200), and a conditional GET with each server's own ETag in If-None-Match (304).
# Prints requests/s and subreg's share of nginx's figure per resource. With
# READS_BENCH_ROUNDS=N each pair is run N times in alternation and the medians are printed.
# Beside requests/s it prints each server's CPU time (user + system, all its processes, from
# /proc) per request: what a request costs the server itself, apart from wrk's share of the
# same cores.
# READS_BENCH_ONLY takes a space-separated subset of: feed page index json csv change.
# Nothing leaves loopback.
set -euo pipefail
cd "$(dirname "$0")/.."

seconds="${READS_BENCH_SECONDS:-5}"
rounds="${READS_BENCH_ROUNDS:-1}"
pid_name="${READS_BENCH_PROCESSOR:-eg-netblanket}"
only="${READS_BENCH_ONLY:-all}"
connections=64

missing=()
command -v wrk >/dev/null 2>&1 || missing+=(wrk)
command -v nginx >/dev/null 2>&1 || [ -x /usr/sbin/nginx ] || missing+=(nginx)
if [ ${#missing[@]} -gt 0 ]; then
  echo "installing ${missing[*]}"
  apt-get update -q >/dev/null
  DEBIAN_FRONTEND=noninteractive apt-get install -y -q "${missing[@]}" >/dev/null
fi
nginx_bin="$(command -v nginx || echo /usr/sbin/nginx)"

cargo build --release --quiet --bin subreg
target_dir="${CARGO_TARGET_DIR:-target}"

work="$(mktemp -d)"
chmod 755 "$work"
subreg_pid=""
nginx_pid=""
cleanup() {
  [ -n "$subreg_pid" ] && kill "$subreg_pid" 2>/dev/null || true
  [ -n "$nginx_pid" ] && kill "$nginx_pid" 2>/dev/null || true
  wait 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

free_port() {
  python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

subreg_port="$(free_port)"
subreg_base="http://127.0.0.1:$subreg_port"
SUBREG_DATABASE_URL="sqlite://$work/subreg.db" \
  SUBREG_BIND="127.0.0.1:$subreg_port" \
  SUBREG_PUBLIC_URL="$subreg_base" \
  SUBREG_JWT_SECRET="feed-bench-secret-that-is-long-enough" \
  SUBREG_LOG=warn \
  "$target_dir/release/subreg" serve --demo >"$work/subreg.log" 2>&1 &
subreg_pid=$!
for _ in $(seq 1 100); do
  curl -fs "$subreg_base/healthz" >/dev/null 2>&1 && break
  sleep 0.1
done

# The reads: name, subreg path, file name under nginx's root (its extension sets the type).
feed_path="/v1/processors/$pid_name/feed.atom"
curl -fs "$subreg_base$feed_path" -o "$work/feed.probe"
# The change page: the first change an entry of the feed links to.
change_path="$(grep -o "/processors/$pid_name/changes/[^?\"]*" "$work/feed.probe" | head -n1 || true)"
reads=(
  "feed|$feed_path|feed.atom"
  "page|/processors/$pid_name|page.html"
  "index|/processors|index.html"
  "json|/v1/processors/$pid_name/subprocessors|list.json"
  "csv|/v1/processors/$pid_name/subprocessors.csv|list.csv"
)
if [ -n "$change_path" ]; then
  reads+=("change|$change_path|change.html")
else
  echo "no change linked from $feed_path: the change page is skipped" >&2
fi

mkdir -p "$work/www" "$work/tmp"
chmod 755 "$work/www"
selected=()
for read in "${reads[@]}"; do
  IFS='|' read -r name path file <<<"$read"
  if [ "$only" != all ] && ! grep -qw "$name" <<<"$only"; then
    continue
  fi
  curl -fs "$subreg_base$path" -D "$work/$name.headers" -o "$work/www/$file"
  chmod 644 "$work/www/$file"
  selected+=("$read")
done

nginx_port="$(free_port)"
cat >"$work/nginx.conf" <<EOF
worker_processes 2;
pid $work/nginx.pid;
error_log $work/nginx-error.log warn;
daemon off;
events { worker_connections 1024; }
http {
  access_log off;
  client_body_temp_path $work/tmp/body;
  proxy_temp_path $work/tmp/proxy;
  fastcgi_temp_path $work/tmp/fastcgi;
  uwsgi_temp_path $work/tmp/uwsgi;
  scgi_temp_path $work/tmp/scgi;
  types {
    application/atom+xml atom;
    text/html html;
    application/json json;
    text/csv csv;
  }
  charset utf-8;
  charset_types text/csv;
  server {
    listen 127.0.0.1:$nginx_port;
    root $work/www;
  }
}
EOF
"$nginx_bin" -e "$work/nginx-error.log" -p "$work" -c "$work/nginx.conf" &
nginx_pid=$!
nginx_base="http://127.0.0.1:$nginx_port"
for _ in $(seq 1 50); do
  curl -fs "$nginx_base/" -o /dev/null 2>&1 && break
  curl -s -o /dev/null -w '%{http_code}' "$nginx_base/" 2>/dev/null | grep -q 403 && break
  sleep 0.1
done

# CPU ticks (user + system) of a process and its children (nginx's workers), from /proc.
ticks() {
  local total=0 pid
  for pid in "$1" $(pgrep -P "$1" || true); do
    total=$((total + $(awk '{ print $14 + $15 }' "/proc/$pid/stat" 2>/dev/null || echo 0)))
  done
  echo "$total"
}
hz="$(getconf CLK_TCK)"

# "requests/s cpu-us/request" of one wrk run against the server `$1`; a run with errors or
# non-2xx/3xx answers is shown on stderr.
rate() {
  local server="$1" out before after
  shift
  before="$(ticks "$server")"
  out="$(wrk -t2 -c"$connections" -d"${seconds}s" "$@")"
  after="$(ticks "$server")"
  if grep -q 'Non-2xx or 3xx' <<<"$out" || grep -q 'Socket errors' <<<"$out"; then
    echo "$out" >&2
  fi
  awk -v used=$((after - before)) -v hz="$hz" '
    /requests in/ { n = $1 }
    /^Requests\/sec:/ { rps = $2 }
    END { printf "%.0f %.1f", rps, (n > 0 ? used * 1e6 / hz / n : 0) }' <<<"$out"
}
median() { tr ' ' '\n' | grep . | sort -n | awk '{ a[NR] = $1 } END { print (NR ? a[int((NR + 1) / 2)] : 0) }'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", (b > 0 ? a / b : 0) }'; }
etag_of() { grep -i '^etag:' "$1" | cut -d' ' -f2- | tr -d '\r'; }
# Checks the status a conditional request gets, so a table row never measures the wrong answer.
status_of() { curl -s -o /dev/null -w '%{http_code}' "$@"; }

echo "wrk -t2 -c$connections -d${seconds}s, $rounds round(s), $(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg)"
printf '%-8s %-7s %8s %12s %12s %8s %10s %10s  %s\n' read answer bytes "subreg req/s" "nginx req/s" ratio \
  "subreg us" "nginx us" path
for read in "${selected[@]}"; do
  IFS='|' read -r name path file <<<"$read"
  bytes="$(wc -c <"$work/www/$file")"
  s_etag="$(etag_of "$work/$name.headers")"
  n_etag="$(curl -fsI "$nginx_base/$file" | grep -i '^etag:' | cut -d' ' -f2- | tr -d '\r')"
  for answer in 200 304; do
    s_args=("$subreg_base$path")
    n_args=("$nginx_base/$file")
    if [ "$answer" = 304 ]; then
      if [ -z "$s_etag" ]; then
        printf '%-8s %-7s %8s %12s %12s %8s %10s %10s  %s\n' "$name" 304 "$bytes" "no ETag" - - - - "$path"
        continue
      fi
      s_args=(-H "If-None-Match: $s_etag" "${s_args[@]}")
      n_args=(-H "If-None-Match: $n_etag" "${n_args[@]}")
    fi
    got="$(status_of "${s_args[@]}")"
    if [ "$got" != "$answer" ]; then
      printf '%-8s %-7s %8s %12s %12s %8s %10s %10s  %s\n' "$name" "$answer" "$bytes" "got $got" - - - - "$path"
      continue
    fi
    s_rates=""
    n_rates=""
    s_cpus=""
    n_cpus=""
    for _ in $(seq 1 "$rounds"); do
      read -r r c <<<"$(rate "$subreg_pid" "${s_args[@]}")"
      s_rates="$s_rates $r"
      s_cpus="$s_cpus $c"
      read -r r c <<<"$(rate "$nginx_pid" "${n_args[@]}")"
      n_rates="$n_rates $r"
      n_cpus="$n_cpus $c"
    done
    s="$(median <<<"$s_rates")"
    n="$(median <<<"$n_rates")"
    printf '%-8s %-7s %8s %12s %12s %8s %10s %10s  %s\n' "$name" "$answer" "$bytes" "$s" "$n" \
      "$(ratio "$s" "$n")" "$(median <<<"$s_cpus")" "$(median <<<"$n_cpus")" "$path"
  done
done
