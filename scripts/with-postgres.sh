#!/usr/bin/env bash
# Runs a command with a throwaway PostgreSQL server on loopback and
# STORE_TEST_POSTGRES_DSN pointing at it, unless the variable is already set.
# PostgreSQL refuses to run as root, so as root the server runs as the
# "postgres" user that Debian's package creates.
set -euo pipefail

if [ -n "${STORE_TEST_POSTGRES_DSN:-}" ]; then
  exec "$@"
fi
pgbin=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)
if [ -z "$pgbin" ]; then
  echo "with-postgres: PostgreSQL is not installed (run scripts/test-deps.sh)" >&2
  exit 1
fi
dir=$(mktemp -d /tmp/shoal-pg.XXXXXX)
port=${SHOAL_TEST_PG_PORT:-55432}
as=()
if [ "$(id -u)" -eq 0 ]; then
  chown postgres "$dir"
  as=(runuser -u postgres --)
fi
"${as[@]}" "$pgbin/initdb" -D "$dir/data" -U shoal --auth=trust -E UTF8 >"$dir/initdb.log" 2>&1 || { cat "$dir/initdb.log"; exit 1; }
"${as[@]}" "$pgbin/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w \
  -o "-c listen_addresses=127.0.0.1 -p $port -k $dir -c fsync=off -c max_connections=200" start >/dev/null \
  || { cat "$dir/server.log"; exit 1; }
stop() {
  "${as[@]}" "$pgbin/pg_ctl" -D "$dir/data" -m immediate stop >/dev/null 2>&1 || true
  rm -rf "$dir"
}
trap stop EXIT
"${as[@]}" "$pgbin/createdb" -h 127.0.0.1 -p "$port" -U shoal shoal_test
export STORE_TEST_POSTGRES_DSN="postgres://shoal@127.0.0.1:$port/shoal_test?sslmode=disable"
"$@"
