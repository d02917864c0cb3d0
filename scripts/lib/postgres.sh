# shellcheck shell=bash
# Throwaway PostgreSQL clusters on 127.0.0.1 for tests and the quickstart.
# Source this file, then: pg_ensure NAME PORT  → starts (or reuses) a cluster
# and prints nothing; afterwards PG_URL_SUPER holds a superuser URL.
#
# The server refuses to run as root, so when we are root the cluster runs as
# the unprivileged `postgres` user (created by Debian's postgresql package;
# created here if missing). Data lives in /tmp/logferry-<hash of repo path>/
# so every clone has its own, and nothing needs to traverse the repo's
# parents. When another clone's server already answers on the port (with the
# same password and wal_level = logical), that one is reused instead.

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
pg_ensure() {
  local name=$1 port=$2 extra=${3:-}
  pg_install_if_missing
  local bin; bin=$(pg_bindir)
  local root; root="/tmp/logferry-$(printf '%s' "$PWD" | md5sum | cut -c1-8)"
  local data="$root/$name"
  # Another clone of logferry beside this one may already run its throwaway
  # server on this port (same superuser password, wal_level = logical):
  # reuse it rather than fail to bind. Tests each use their own database.
  if ! as_pg "$bin/pg_ctl" -D "$data" status >/dev/null 2>&1 \
     && PGPASSWORD="$PG_SUPER_PASSWORD" PGCONNECT_TIMEOUT=3 "$bin/psql" -qAt -h 127.0.0.1 -p "$port" -U postgres -d postgres \
          -c "SELECT current_setting('wal_level') = 'logical'" 2>/dev/null | grep -qx t; then
    echo "==> reusing the PostgreSQL already on 127.0.0.1:$port (wal_level = logical, the test password; another clone's)" >&2
    PG_URL_SUPER="postgres://postgres:${PG_SUPER_PASSWORD}@127.0.0.1:${port}/postgres"
    PG_DATA_DIR=$(PGPASSWORD="$PG_SUPER_PASSWORD" "$bin/psql" -qAt -h 127.0.0.1 -p "$port" -U postgres -d postgres -c "SHOW data_directory")
    export PG_URL_SUPER PG_DATA_DIR
    return 0
  fi
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
$extra
CONF
    cat > "$data/pg_hba.conf" <<HBA
local all         all                 scram-sha-256
host  all         all   127.0.0.1/32  scram-sha-256
host  replication all   127.0.0.1/32  scram-sha-256
HBA
  fi
  if ! as_pg "$bin/pg_ctl" -D "$data" status >/dev/null 2>&1; then
    as_pg "$bin/pg_ctl" -D "$data" -l "$data/server.log" -w -t 60 start >/dev/null \
      || { echo "PostgreSQL ($data) did not start; its log:" >&2; tail -n 30 "$data/server.log" >&2; return 1; }
  fi
  PG_URL_SUPER="postgres://postgres:${PG_SUPER_PASSWORD}@127.0.0.1:${port}/postgres"
  PG_DATA_DIR="$data"
  export PG_URL_SUPER PG_DATA_DIR
}

pg_stop() {
  local name=$1
  local bin; bin=$(pg_bindir)
  local data; data="/tmp/logferry-$(printf '%s' "$PWD" | md5sum | cut -c1-8)/$name"
  [ -d "$data" ] && as_pg "$bin/pg_ctl" -D "$data" -m fast stop >/dev/null 2>&1 || true
}
