# shellcheck shell=bash
# Throwaway NATS servers (JetStream on) on 127.0.0.1 for tests and benches.
# Source this file, then: nats_ensure NAME PORT → installs Debian's
# nats-server if missing, starts (or reuses, when this clone's server NAME
# still runs) `nats-server -js` on 127.0.0.1:PORT with its JetStream store,
# pid file and log in /tmp/logferry-<hash of repo path>/NAME, and sets
# NATS_URL and NATS_PORT. When PORT is held by anything else (another
# clone's server, say) it takes the next free port and says so
# (scripts/lib/ports.sh).
# nats_stop NAME stops a server that nats_ensure started.

# shellcheck source=ports.sh
source "$(dirname "${BASH_SOURCE[0]}")/ports.sh"

nats_install_if_missing() {
  command -v nats-server >/dev/null 2>&1 && return 0
  [ -x /usr/sbin/nats-server ] && return 0
  echo "==> installing nats-server (apt-get)" >&2
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq nats-server >/dev/null
}

nats_root() { printf '/tmp/logferry-%s' "$(printf '%s' "$PWD" | md5sum | cut -c1-8)"; }

# nats_jetstream_on PORT: a NATS server answers on 127.0.0.1:PORT with
# JetStream enabled (its INFO line says "jetstream":true).
nats_jetstream_on() {
  local port=$1 info
  info=$(timeout 3 bash -c "exec 3<>/dev/tcp/127.0.0.1/$port && head -n1 <&3" 2>/dev/null) || return 1
  case $info in INFO*'"jetstream":true'*) return 0 ;; *) return 1 ;; esac
}

# nats_pid DATA: the pid of this clone's server of that data dir, if it runs.
nats_pid() {
  local data=$1 pid
  pid=$(cat "$data/nats.pid" 2>/dev/null) || return 1
  tr '\0' ' ' < "/proc/$pid/cmdline" 2>/dev/null | grep -q -- "-sd $data/jetstream" || return 1
  echo "$pid"
}

# nats_ensure NAME PORT
nats_ensure() {
  local name=$1 port=$2
  local nats_bin
  nats_install_if_missing
  nats_bin=$(command -v nats-server || echo /usr/sbin/nats-server)
  local root; root=$(nats_root)
  local data="$root/$name" pid
  if pid=$(nats_pid "$data"); then
    # Ours, from an earlier run: it keeps its port.
    port=$(port_of_cmdline "$pid" -p)
  else
    port=$(port_pick "$port" "NATS server $name") || return 1
    mkdir -p "$data/jetstream"
    (nohup "$nats_bin" -js -a 127.0.0.1 -p "$port" -sd "$data/jetstream" \
       -P "$data/nats.pid" -l "$data/server.log" >/dev/null 2>&1 &)
  fi
  local i
  for i in $(seq 1 40); do
    nats_jetstream_on "$port" && break
    sleep 0.25
  done
  nats_jetstream_on "$port" \
    || { echo "nats-server ($data) did not start on 127.0.0.1:$port; its log:" >&2; tail -n 30 "$data/server.log" >&2; return 1; }
  NATS_URL="nats://127.0.0.1:${port}"
  NATS_PORT=$port
  export NATS_URL NATS_PORT
}

nats_stop() {
  local data; data="$(nats_root)/$1"
  [ -f "$data/nats.pid" ] && kill "$(cat "$data/nats.pid")" 2>/dev/null || true
}
