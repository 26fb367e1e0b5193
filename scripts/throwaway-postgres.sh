#!/usr/bin/env bash
# A throwaway PostgreSQL for tests and for trying the PostgreSQL catalog
# (issue 13): a cluster in DIR that listens only on a Unix socket in DIR (no
# TCP port, so two of them never collide), with durability switched off for
# speed unless FERRY_PG_DURABLE=1. Nothing outside DIR is written.
#
#   scripts/throwaway-postgres.sh start DIR   initdb (once) and start; prints the
#                                             connection URI on stdout
#   scripts/throwaway-postgres.sh stop DIR    stop the server by its pid (fast
#                                             shutdown), if it runs
#
# Needs Debian's postgresql-15 (scripts/install-deps.sh installs it). As root
# the server runs as the `postgres` user (PostgreSQL refuses root), so DIR's
# parents must be traversable by it; otherwise as the calling user.
set -euo pipefail

usage() { echo "usage: $0 start|stop DIR" >&2; exit 2; }
(($# == 2)) || usage
command=$1
dir=$2
pgbin=${FERRY_PGBIN:-/usr/lib/postgresql/15/bin}
# Any number names the socket file (.s.PGSQL.<port>); no TCP listener.
port=5432

as_owner() {
  if ((EUID == 0)); then
    runuser -u postgres -- "$@"
  else
    "$@"
  fi
}

case "$command" in
  start)
    [[ -x "$pgbin/initdb" ]] || { echo "throwaway-postgres: no $pgbin/initdb (install postgresql-15)" >&2; exit 1; }
    mkdir -p "$dir"
    dir=$(cd "$dir" && pwd)
    if ((EUID == 0)); then
      chown postgres:postgres "$dir"
    fi
    chmod 700 "$dir"
    if [[ ! -f "$dir/data/PG_VERSION" ]]; then
      as_owner "$pgbin/initdb" -D "$dir/data" -U postgres -A trust -E UTF8 --locale=C.UTF-8 --no-sync \
        >"$dir/initdb.log" 2>&1 || { cat "$dir/initdb.log" >&2; exit 1; }
    fi
    options="-k $dir -p $port -c listen_addresses=''"
    # Tests need no durability; a benchmark that compares with SQLite's
    # synced commits asks for it (FERRY_PG_DURABLE=1).
    if [[ "${FERRY_PG_DURABLE:-0}" != 1 ]]; then
      options+=" -c fsync=off -c synchronous_commit=off -c full_page_writes=off"
    fi
    as_owner "$pgbin/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -t 60 -o "$options" \
      start >/dev/null || { cat "$dir/server.log" >&2; exit 1; }
    echo "postgresql:///postgres?host=$dir&port=$port&user=postgres"
    ;;
  stop)
    pidfile=$dir/data/postmaster.pid
    [[ -f "$pidfile" ]] || exit 0
    pid=$(head -1 "$pidfile")
    [[ "$pid" =~ ^[0-9]+$ ]] || { echo "throwaway-postgres: $pidfile holds no pid" >&2; exit 1; }
    # SIGINT is PostgreSQL's fast shutdown; wait for the pid to go (bounded).
    kill -INT "$pid" 2>/dev/null || exit 0
    for _ in $(seq 600); do
      kill -0 "$pid" 2>/dev/null || exit 0
      sleep 0.1
    done
    echo "throwaway-postgres: server $pid did not stop in 60 s; killing it" >&2
    kill -KILL "$pid" 2>/dev/null || true
    ;;
  *) usage ;;
esac
