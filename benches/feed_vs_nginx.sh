#!/usr/bin/env bash
# Feed throughput against nginx serving the same bytes as a static file.
#
#   benches/feed_vs_nginx.sh            (FEED_BENCH_SECONDS=5, FEED_BENCH_PROCESSOR=eg-netblanket)
#
# Installs wrk and nginx with apt-get when missing, builds the release binary, starts
# `subreg serve --demo` and nginx on free 127.0.0.1 ports (everything in a temp dir), and runs
# `wrk -t2 -c32` against each: a plain GET, and a conditional GET with the feed's ETag in
# If-None-Match (304). Prints requests/s and subreg's share of nginx's figure. Nothing leaves
# loopback.
set -euo pipefail
cd "$(dirname "$0")/.."

seconds="${FEED_BENCH_SECONDS:-5}"
pid_name="${FEED_BENCH_PROCESSOR:-eg-netblanket}"

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
SUBREG_DATABASE_URL="sqlite://$work/subreg.db" \
  SUBREG_BIND="127.0.0.1:$subreg_port" \
  SUBREG_PUBLIC_URL="http://127.0.0.1:$subreg_port" \
  SUBREG_JWT_SECRET="feed-bench-secret-that-is-long-enough" \
  SUBREG_LOG=warn \
  target/release/subreg serve --demo >"$work/subreg.log" 2>&1 &
subreg_pid=$!
feed_path="/v1/processors/$pid_name/feed.atom"
for _ in $(seq 1 100); do
  curl -fs "http://127.0.0.1:$subreg_port/healthz" >/dev/null 2>&1 && break
  sleep 0.1
done
curl -fs "http://127.0.0.1:$subreg_port$feed_path" -D "$work/subreg.headers" -o "$work/feed.atom"
subreg_etag="$(grep -i '^etag:' "$work/subreg.headers" | cut -d' ' -f2- | tr -d '\r')"

mkdir -p "$work/www" "$work/tmp"
cp "$work/feed.atom" "$work/www/feed.atom"
chmod 755 "$work/www" && chmod 644 "$work/www/feed.atom"
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
  types { application/atom+xml atom; }
  server {
    listen 127.0.0.1:$nginx_port;
    root $work/www;
  }
}
EOF
"$nginx_bin" -e "$work/nginx-error.log" -p "$work" -c "$work/nginx.conf" &
nginx_pid=$!
nginx_url="http://127.0.0.1:$nginx_port/feed.atom"
for _ in $(seq 1 50); do
  curl -fs "$nginx_url" -o /dev/null 2>&1 && break
  sleep 0.1
done
nginx_etag="$(curl -fsI "$nginx_url" | grep -i '^etag:' | cut -d' ' -f2- | tr -d '\r')"

# Requests/s of one wrk run; refuses a run with errors or non-2xx/3xx answers.
rate() {
  local out
  out="$(wrk -t2 -c32 -d"${seconds}s" "$@")"
  if grep -q 'Non-2xx or 3xx' <<<"$out" || grep -q 'Socket errors' <<<"$out"; then
    echo "$out" >&2
  fi
  awk '/^Requests\/sec:/ { printf "%.0f", $2 }' <<<"$out"
}

bytes="$(wc -c <"$work/feed.atom")"
echo "feed $feed_path: $bytes bytes; wrk -t2 -c32 -d${seconds}s; $(nproc) cores"
s_full="$(rate "http://127.0.0.1:$subreg_port$feed_path")"
n_full="$(rate "$nginx_url")"
s_304="$(rate -H "If-None-Match: $subreg_etag" "http://127.0.0.1:$subreg_port$feed_path")"
n_304="$(rate -H "If-None-Match: $nginx_etag" "$nginx_url")"
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.0f %%", (b > 0 ? 100 * a / b : 0) }'; }
printf '%-26s %12s %12s %10s\n' "" "subreg req/s" "nginx req/s" "subreg/nginx"
printf '%-26s %12s %12s %10s\n' "GET (200)" "$s_full" "$n_full" "$(ratio "$s_full" "$n_full")"
printf '%-26s %12s %12s %10s\n' "If-None-Match (304)" "$s_304" "$n_304" "$(ratio "$s_304" "$n_304")"
