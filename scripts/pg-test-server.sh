#!/usr/bin/env bash
# Throw-away PostgreSQL for the integration tests: installs Debian's package when missing,
# starts a server on 127.0.0.1:$PGPORT with a data folder under $GUANXI_PG_ROOT, or stops it.
#   scripts/pg-test-server.sh start   -> prints the SQLAlchemy URL of the server
#   scripts/pg-test-server.sh stop
set -euo pipefail
PGPORT=${GUANXI_PG_PORT:-55432}
PGROOT=${GUANXI_PG_ROOT:-/tmp/guanxi-pg-$PGPORT}
find_bin() { ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1; }
case ":$PATH:" in *:/usr/sbin:*) ;; *) PATH="$PATH:/usr/sbin:/sbin" ;; esac  # runuser lives there

case "${1:-}" in
start)
  PGBIN=$(find_bin)
  if [ -z "$PGBIN" ] || [ ! -x "$PGBIN/initdb" ]; then
    echo "installing PostgreSQL from Debian's packages..." >&2
    if [ "$(id -u)" = 0 ]; then SUDO=""; else SUDO="sudo"; fi
    $SUDO apt-get update -qq >&2
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq postgresql >&2
    PGBIN=$(find_bin)
  fi
  RUNAS=()
  if [ "$(id -u)" = 0 ]; then RUNAS=(runuser -u postgres --); fi
  if [ -f "$PGROOT/data/postmaster.pid" ] && "${RUNAS[@]}" "$PGBIN/pg_ctl" -D "$PGROOT/data" status >/dev/null 2>&1; then
    echo "postgresql+psycopg://postgres@127.0.0.1:$PGPORT/postgres"; exit 0
  fi
  rm -rf "$PGROOT"; mkdir -p "$PGROOT"
  if [ "$(id -u)" = 0 ]; then chown postgres:postgres "$PGROOT"; fi
  chmod 700 "$PGROOT"
  "${RUNAS[@]}" "$PGBIN/initdb" -D "$PGROOT/data" -U postgres --auth=trust -E UTF8 --locale=C.UTF-8 --no-sync >/dev/null
  "${RUNAS[@]}" "$PGBIN/pg_ctl" -D "$PGROOT/data" -l "$PGROOT/server.log" -w -t 30 \
    -o "-p $PGPORT -k $PGROOT -c listen_addresses=127.0.0.1 -c fsync=off -c full_page_writes=off" start >/dev/null
  echo "postgresql+psycopg://postgres@127.0.0.1:$PGPORT/postgres"
  ;;
stop)
  PGBIN=$(find_bin)
  if [ -n "$PGBIN" ] && [ -d "$PGROOT/data" ]; then
    if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$PGBIN/pg_ctl" -D "$PGROOT/data" -m fast -w stop >/dev/null || true
    else "$PGBIN/pg_ctl" -D "$PGROOT/data" -m fast -w stop >/dev/null || true; fi
  fi
  ;;
*) echo "usage: $0 start|stop" >&2; exit 2 ;;
esac
