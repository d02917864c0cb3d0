# shellcheck shell=bash
# Throwaway MariaDB servers on 127.0.0.1 for tests and the quickstart.
# Source this file, then: mariadb_ensure NAME PORT [EXTRA_CNF] → installs
# mariadb-server from Debian if missing, starts (or reuses) this clone's
# `mariadbd` NAME by hand (there is no systemd) with the binlog as logferry
# needs it, and sets MARIADB_URL_ROOT, MARIADB_PORT and MARIADB_DATA_DIR.
# When PORT is held by anything but this clone's server NAME (another
# clone's, say), the server takes the next free port and says so
# (scripts/lib/ports.sh).
#
# Server settings: log_bin, binlog_format=ROW, binlog_row_image=FULL,
# server_id=1, GTIDs (always on in MariaDB), binlog_checksum=CRC32 (default).
# EXTRA_CNF lines go at the end of my.cnf and win (e.g. `skip-log-bin` for a
# server without binlog); they are rewritten at every start.
# Data lives in /tmp/logferry-<hash of repo path>/NAME, owned by the
# unprivileged `mysql` user when we are root.
#
# mariadb_restart DATA [EXTRA_CNF] restarts the server whose data lives in
# DATA (`SELECT @@datadir` is DATA/db/) with new EXTRA_CNF lines;
# mariadb_stop NAME stops this clone's NAME.

# shellcheck source=ports.sh
source "$(dirname "${BASH_SOURCE[0]}")/ports.sh"

MARIADB_ROOT_PASSWORD=${MARIADB_ROOT_PASSWORD:-logferry-test}

mariadb_install_if_missing() {
  command -v mariadbd >/dev/null 2>&1 && return 0
  [ -x /usr/sbin/mariadbd ] && return 0
  echo "==> installing mariadb-server (apt-get)" >&2
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq mariadb-server >/dev/null
}

mariadb_root() { printf '/tmp/logferry-%s' "$(printf '%s' "$PWD" | md5sum | cut -c1-8)"; }

# mariadb_alive DATA: this server answers on its socket.
mariadb_alive() {
  mariadb-admin --socket="$1/mysqld.sock" -uroot -p"$MARIADB_ROOT_PASSWORD" ping >/dev/null 2>&1 \
    || mariadb-admin --socket="$1/mysqld.sock" -uroot ping >/dev/null 2>&1
}

# mariadb_start DATA PORT EXTRA_CNF: writes the port and the extra lines
# into DATA/my.cnf and starts the server; waits until it answers.
mariadb_start() {
  local data=$1 port=$2 extra=$3
  local owner=(); [ "$(id -u)" = 0 ] && owner=(--user=mysql)
  # Its own tmpdir: another mariadbd starting with tmpdir=/tmp (the TLS tests
  # start one) removes the #sql temp files this one is using.
  mkdir -p "$data/tmp"; [ "$(id -u)" = 0 ] && chown mysql: "$data/tmp"
  grep -q '^tmpdir' "$data/my.cnf" || echo "tmpdir = $data/tmp" >> "$data/my.cnf"
  sed -i -e "s/^port = .*/port = $port/" -e '/^# extra (mariadb_ensure)$/,$d' "$data/my.cnf"
  printf '# extra (mariadb_ensure)\n%s\n' "$extra" >> "$data/my.cnf"
  [ "$(id -u)" = 0 ] && chown mysql: "$data/my.cnf"
  (nohup mariadbd --defaults-file="$data/my.cnf" "${owner[@]}" >/dev/null 2>&1 &)
  local i
  for i in $(seq 1 120); do
    mariadb_alive "$data" && return 0
    sleep 0.5
  done
  echo "MariaDB ($data) did not start on 127.0.0.1:$port; its log:" >&2
  tail -n 30 "$data/server.log" >&2
  return 1
}

# mariadb_ensure NAME PORT [EXTRA_CNF]
mariadb_ensure() {
  local name=$1 port=$2 extra=${3:-}
  mariadb_install_if_missing
  local root; root=$(mariadb_root)
  local data="$root/$name"
  local sock="$data/mysqld.sock"
  local owner=(); [ "$(id -u)" = 0 ] && owner=(--user=mysql)
  if mariadb_alive "$data"; then
    # Ours, from an earlier run: it keeps its port.
    port=$(sed -n 's/^port = //p' "$data/my.cnf")
  else
    port=$(port_pick "$port" "MariaDB $name") || return 1
    mkdir -p "$root"; chmod 755 "$root"
    if [ ! -d "$data/db/mysql" ]; then
      rm -rf "$data"; mkdir -p "$data/db" "$data/binlog" "$data/tmp"
      [ "$(id -u)" = 0 ] && chown -R mysql: "$data"
      cat > "$data/my.cnf" <<CNF
[mariadbd]
datadir = $data/db
socket = $sock
pid-file = $data/mariadbd.pid
bind-address = 127.0.0.1
port = $port
log-error = $data/server.log
server_id = 1
log_bin = $data/binlog/mariadb-bin
binlog_format = ROW
binlog_row_image = FULL
binlog_checksum = CRC32
max_connections = 500
innodb_buffer_pool_size = 256M
innodb_flush_log_at_trx_commit = 2
sync_binlog = 0
skip-name-resolve
tmpdir = $data/tmp
CNF
      [ "$(id -u)" = 0 ] && chown mysql: "$data/my.cnf"
      mariadb-install-db --defaults-file="$data/my.cnf" "${owner[@]}" --auth-root-authentication-method=normal >/dev/null 2>"$data/install.log" \
        || { echo "mariadb-install-db failed:" >&2; cat "$data/install.log" >&2; return 1; }
    fi
    mariadb_start "$data" "$port" "$extra" || return 1
  fi
  # Give root a password and TCP access from 127.0.0.1 (idempotent; the
  # first start has a passwordless root on the socket).
  local login=(--socket="$sock" -uroot)
  mariadb "${login[@]}" -e "SELECT 1" >/dev/null 2>&1 || login+=(-p"$MARIADB_ROOT_PASSWORD")
  mariadb "${login[@]}" <<SQL || { echo "cannot set up MariaDB root ($data)" >&2; return 1; }
DELETE FROM mysql.global_priv WHERE User = '';
FLUSH PRIVILEGES;
CREATE USER IF NOT EXISTS 'root'@'127.0.0.1';
ALTER USER 'root'@'127.0.0.1' IDENTIFIED BY '$MARIADB_ROOT_PASSWORD';
GRANT ALL PRIVILEGES ON *.* TO 'root'@'127.0.0.1' WITH GRANT OPTION;
ALTER USER 'root'@'localhost' IDENTIFIED BY '$MARIADB_ROOT_PASSWORD';
FLUSH PRIVILEGES;
SQL
  mariadb -h127.0.0.1 -P"$port" -uroot -p"$MARIADB_ROOT_PASSWORD" -e "SELECT 1" >/dev/null \
    || { echo "MariaDB ($data) does not answer on 127.0.0.1:$port; its log:" >&2; tail -n 30 "$data/server.log" >&2; return 1; }
  MARIADB_PORT=$port
  MARIADB_URL_ROOT="mysql://root:${MARIADB_ROOT_PASSWORD}@127.0.0.1:${port}"
  MARIADB_DATA_DIR="$data"
  export MARIADB_URL_ROOT MARIADB_DATA_DIR MARIADB_PORT
}

# mariadb_restart DATA [EXTRA_CNF]: stops the server of DATA and starts it
# again on its port with EXTRA_CNF as the last lines of its my.cnf.
mariadb_restart() {
  local data=${1%/} extra=${2:-}
  [ -f "$data/my.cnf" ] || { echo "mariadb_restart: no my.cnf in $data" >&2; return 1; }
  local port; port=$(sed -n 's/^port = //p' "$data/my.cnf")
  mariadb-admin --socket="$data/mysqld.sock" -uroot -p"$MARIADB_ROOT_PASSWORD" shutdown >/dev/null 2>&1 || true
  local i
  for i in $(seq 1 120); do
    mariadb_alive "$data" || [ -e "$data/mariadbd.pid" ] || break
    sleep 0.5
  done
  mariadb_start "$data" "$port" "$extra"
}

mariadb_stop() {
  local data; data="$(mariadb_root)/$1"
  [ -S "$data/mysqld.sock" ] && mariadb-admin --socket="$data/mysqld.sock" -uroot -p"$MARIADB_ROOT_PASSWORD" shutdown >/dev/null 2>&1 || true
}
