# shellcheck shell=bash
# Throwaway PostgreSQL clusters on 127.0.0.1 for tests and the quickstart.
# Source this file, then: pg_ensure NAME PORT [EXTRA_CONF] → starts (or
# reuses) this clone's cluster NAME; afterwards PG_URL_SUPER holds a
# superuser URL, PG_PORT its port and PG_DATA_DIR its data directory.
#
# The server refuses to run as root, so when we are root the cluster runs as
# the unprivileged `postgres` user (created by Debian's postgresql package;
# created here if missing). Data lives in /tmp/logferry-<hash of repo path>/
# so every clone has its own, and nothing needs to traverse the repo's
# parents. When PORT is held by anything but this clone's cluster NAME
# (another clone's server, say), the cluster takes the next free port and
# says so (scripts/lib/ports.sh); it keeps that port while it runs.
#
# pg_restart DATA_DIR restarts a cluster (its data directory, as
# `SHOW data_directory` names it); pg_stop NAME stops this clone's NAME.

# shellcheck source=ports.sh
source "$(dirname "${BASH_SOURCE[0]}")/ports.sh"

PG_SUPER_PASSWORD=${PG_SUPER_PASSWORD:-logferry-test}

pg_bindir() {
  local d
  for d in /usr/lib/postgresql/*/bin; do
    [ -x "$d/postgres" ] && { echo "$d"; return 0; }
  done
  command -v postgres >/dev/null && { dirname "$(command -v postgres)"; return 0; }
  return 1
}

pg_install_if_missing() {
  pg_bindir >/dev/null && return 0
  echo "==> installing postgresql (apt-get)" >&2
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >/dev/null
}

# as_pg CMD...: run CMD as the cluster's owner.
as_pg() {
  if [ "$(id -u)" = 0 ]; then
    id postgres >/dev/null 2>&1 || useradd --system --no-create-home --shell /usr/sbin/nologin postgres
    runuser -u postgres -- "$@"
  else
    "$@"
  fi
}

# pg_ensure NAME PORT [EXTRA_CONF]
# EXTRA_CONF lines go at the end of postgresql.conf (rewritten on every
# start, so a changed EXTRA_CONF applies at the next start).
pg_ensure() {
  local name=$1 port=$2 extra=${3:-}
  pg_install_if_missing
  local bin; bin=$(pg_bindir)
  local root; root="/tmp/logferry-$(printf '%s' "$PWD" | md5sum | cut -c1-8)"
  local data="$root/$name"
  if as_pg "$bin/pg_ctl" -D "$data" status >/dev/null 2>&1; then
    # Ours, from an earlier run: its port is in postmaster.pid (4th line).
    port=$(sed -n 4p "$data/postmaster.pid")
  else
    port=$(port_pick "$port" "PostgreSQL $name") || return 1
    mkdir -p "$root"
    chmod 755 "$root"
    if [ ! -s "$data/PG_VERSION" ]; then
      rm -rf "$data"
      mkdir -p "$data"
      [ "$(id -u)" = 0 ] && chown postgres: "$data"
      local pwfile; pwfile=$(mktemp)
      printf '%s\n' "$PG_SUPER_PASSWORD" > "$pwfile"
      chmod 644 "$pwfile"
      as_pg "$bin/initdb" -D "$data" -U postgres --pwfile="$pwfile" -A scram-sha-256 -E UTF8 --locale=C.UTF-8 >/dev/null
      rm -f "$pwfile"
      cat >> "$data/postgresql.conf" <<CONF
# logferry throwaway cluster
listen_addresses = '127.0.0.1'
port = $port
unix_socket_directories = '$data'
wal_level = logical
max_replication_slots = 200
max_wal_senders = 200
max_connections = 400
shared_buffers = 256MB
CONF
      cat > "$data/pg_hba.conf" <<HBA
local all         all                 scram-sha-256
host  all         all   127.0.0.1/32  scram-sha-256
host  replication all   127.0.0.1/32  scram-sha-256
HBA
    fi
    # The port picked now, and EXTRA_CONF as the last lines (later lines win).
    as_pg sed -i -e "s/^port = .*/port = $port/" -e '/^# extra (pg_ensure)$/,$d' "$data/postgresql.conf"
    printf '# extra (pg_ensure)\n%s\n' "$extra" | as_pg tee -a "$data/postgresql.conf" >/dev/null
    as_pg "$bin/pg_ctl" -D "$data" -l "$data/server.log" -w -t 60 start >/dev/null \
      || { echo "PostgreSQL ($data) did not start; its log:" >&2; tail -n 30 "$data/server.log" >&2; return 1; }
  fi
  PG_PORT=$port
  PG_URL_SUPER="postgres://postgres:${PG_SUPER_PASSWORD}@127.0.0.1:${port}/postgres"
  PG_DATA_DIR="$data"
  export PG_URL_SUPER PG_DATA_DIR PG_PORT
}

# pg_restart DATA_DIR: a fast restart (settings that need one, like wal_level).
pg_restart() {
  local data=$1
  local bin; bin=$(pg_bindir)
  [ -s "$data/PG_VERSION" ] || { echo "pg_restart: $data is no PostgreSQL data directory" >&2; return 1; }
  as_pg "$bin/pg_ctl" -D "$data" -l "$data/server.log" -m fast -w -t 60 restart >/dev/null \
    || { echo "PostgreSQL ($data) did not restart; its log:" >&2; tail -n 30 "$data/server.log" >&2; return 1; }
}

pg_stop() {
  local name=$1
  local bin; bin=$(pg_bindir)
  local data; data="/tmp/logferry-$(printf '%s' "$PWD" | md5sum | cut -c1-8)/$name"
  [ -d "$data" ] && as_pg "$bin/pg_ctl" -D "$data" -m fast stop >/dev/null 2>&1 || true
}
