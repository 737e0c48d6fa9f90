#!/usr/bin/env bash
# Best effort: start a throw-away PostgreSQL server on 127.0.0.1:55432 for the store's PostgreSQL test
# and print its URL and data folder. Prints nothing (and the test skips) where PostgreSQL cannot be installed or run.
set -u
bin=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)
if [ -z "$bin" ] && [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
  timeout 300 apt-get update -qq >/dev/null 2>&1
  DEBIAN_FRONTEND=noninteractive timeout 300 apt-get install -y -qq postgresql >/dev/null 2>&1
  bin=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)
fi
[ -n "$bin" ] || exit 0
id postgres >/dev/null 2>&1 || exit 0
dir=$(mktemp -d /tmp/sparsegym-pg.XXXXXX)
chown postgres "$dir"
run() { if [ "$(id -u)" = 0 ]; then su postgres -c "$*"; else bash -c "$*"; fi; }
run "$bin/pg_ctl -D $dir/d -o '-p 55432 -k $dir -c listen_addresses=127.0.0.1' -l $dir/log stop" >/dev/null 2>&1
run "$bin/initdb -D $dir/d -A trust -U postgres" >/dev/null 2>&1 || exit 0
run "$bin/pg_ctl -D $dir/d -o '-p 55432 -k $dir -c listen_addresses=127.0.0.1' -l $dir/log -w start" >/dev/null 2>&1 || exit 0
run "$bin/createdb -h 127.0.0.1 -p 55432 -U postgres sgtest" >/dev/null 2>&1 || exit 0
echo "postgresql://postgres@127.0.0.1:55432/sgtest $dir"
