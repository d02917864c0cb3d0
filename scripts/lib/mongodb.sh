# shellcheck shell=bash
# Throwaway MongoDB-compatible servers on 127.0.0.1 for tests and benches.
# There is no mongod package on Debian, so the stand-in is SecantusDB, a
# MongoDB wire-compatible server written in Python that presents itself as a
# one-node replica set named `secantus` (change streams, resume tokens,
# pre/post images, transactions).
#
# Source this file, then: mongodb_ensure NAME PORT [SERVER_ARGS...] →
#   - creates (once) a Python virtualenv in /tmp/logferry-<hash of repo path>/
#     mongodb-venv with pinned SecantusDB, pymongo and mockupdb (the tests'
#     scripted mock server, tests/support/mongo_mock.py, runs on it);
#   - starts (or reuses, when this clone's server NAME still runs)
#     `secantusd-py` on 127.0.0.1:PORT with its data, config and log in
#     /tmp/logferry-<hash>/NAME; when PORT is held by anything else (another
#     clone's server, say) it takes the next free port and says so
#     (scripts/lib/ports.sh); SERVER_ARGS (e.g. --oplog-max-entries N) are
#     passed to a server that this call starts, not to one it reuses;
#   - exports MONGODB_URL (mongodb://127.0.0.1:PORT/?directConnection=true),
#     MONGODB_PORT, MONGODB_PYTHON (the venv's python, which has pymongo)
#     and MONGODB_DATA_DIR.
# mongodb_stop NAME stops a server that mongodb_ensure started.

# shellcheck source=ports.sh
source "$(dirname "${BASH_SOURCE[0]}")/ports.sh"

MONGODB_PIP_PINS=(SecantusDB==0.7.0b3 pymongo==4.20.0 mockupdb==1.8.1)

mongodb_root() { printf '/tmp/logferry-%s' "$(printf '%s' "$PWD" | md5sum | cut -c1-8)"; }

# mongodb_venv_ok VENV: the venv exists and holds exactly the pinned versions.
mongodb_venv_ok() {
  local venv=$1
  [ -x "$venv/bin/python" ] && [ -x "$venv/bin/secantusd-py" ] || return 1
  "$venv/bin/python" - "${MONGODB_PIP_PINS[@]}" >/dev/null 2>&1 <<'PY'
import sys
from importlib.metadata import version
for pin in sys.argv[1:]:
    name, want = pin.split("==")
    if version(name) != want:
        sys.exit(1)
import pymongo, mockupdb  # noqa: F401  (importable, not just installed)
PY
}

# mongodb_make_venv VENV: python3 -m venv, installing Debian's python3-venv
# (ensurepip) when the interpreter lacks it.
mongodb_make_venv() {
  local venv=$1 py
  rm -rf "$venv"
  python3 -m venv "$venv" >/dev/null 2>&1 && return 0
  rm -rf "$venv"
  echo "==> installing python3-venv (apt-get)" >&2
  if ! { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq python3 python3-venv >/dev/null; }; then
    echo "cannot install python3-venv" >&2; return 1
  fi
  # python3 on PATH may not be Debian's (pyenv etc.); Debian's has ensurepip now.
  for py in python3 /usr/bin/python3; do
    command -v "$py" >/dev/null 2>&1 || continue
    "$py" -m venv "$venv" >/dev/null 2>&1 && return 0
    rm -rf "$venv"
  done
  echo "python3 -m venv $venv failed even with python3-venv installed" >&2
  return 1
}

mongodb_install_if_missing() {
  local venv=$1
  mongodb_venv_ok "$venv" && return 0
  echo "==> installing SecantusDB, pymongo, mockupdb into $venv (pip)" >&2
  [ -x "$venv/bin/python" ] || mongodb_make_venv "$venv" || return 1
  "$venv/bin/python" -m pip install -q --disable-pip-version-check "${MONGODB_PIP_PINS[@]}" >"$venv/pip.log" 2>&1 \
    || { echo "pip install ${MONGODB_PIP_PINS[*]} failed; its log ($venv/pip.log):" >&2; tail -n 30 "$venv/pip.log" >&2; return 1; }
  mongodb_venv_ok "$venv" || { echo "the venv $venv still lacks ${MONGODB_PIP_PINS[*]}" >&2; return 1; }
}

# mongodb_ping PYTHON URL [TIMEOUT_MS]: a pymongo `ping` succeeds.
mongodb_ping() {
  "$1" - "$2" "${3:-1000}" >/dev/null 2>&1 <<'PY'
import sys, pymongo
c = pymongo.MongoClient(sys.argv[1], serverSelectionTimeoutMS=int(sys.argv[2]), connectTimeoutMS=int(sys.argv[2]))
c.admin.command("ping")
PY
}

# mongodb_pid NAME_DATA: the pid of this clone's server of that data dir,
# if it runs (pids get reused: its command line must name the data).
mongodb_pid() {
  local data=$1 pid
  pid=$(cat "$data/secantusd.pid" 2>/dev/null) || return 1
  tr '\0' ' ' < "/proc/$pid/cmdline" 2>/dev/null | grep -q -- "--storage-path $data/db" || return 1
  echo "$pid"
}

# mongodb_ensure NAME PORT [SERVER_ARGS...]
mongodb_ensure() {
  local name=$1 port=$2; shift 2
  local root; root=$(mongodb_root)
  local venv="$root/mongodb-venv"
  local data="$root/$name"
  mkdir -p "$root"; chmod 755 "$root"
  mongodb_install_if_missing "$venv" || return 1
  local py="$venv/bin/python" pid
  if pid=$(mongodb_pid "$data"); then
    # Ours, from an earlier run: it keeps its port.
    port=$(port_of_cmdline "$pid" --port)
  else
    port=$(port_pick "$port" "MongoDB stand-in $name") || return 1
  fi
  local url="mongodb://127.0.0.1:${port}/?directConnection=true"
  if ! mongodb_ping "$py" "$url"; then
    mkdir -p "$data"
    # An explicit (empty) config turns off secantusd's auto-discovery of
    # ./secantusd.toml, ~/.secantus/… and /etc/secantus/…, so nothing on the
    # machine changes the server the tests get.
    [ -f "$data/secantusd.toml" ] || printf '# logferry throwaway server: settings are on the command line\n' > "$data/secantusd.toml"
    # setsid + nohup: the server outlives this script and its terminal. In
    # this subshell (no job control) the background child is no process-group
    # leader, so setsid and nohup exec in place and $! is the server's pid.
    if ! mongodb_pid "$data" >/dev/null; then
      (cd "$data" || exit 1
       setsid nohup "$venv/bin/secantusd-py" --config "$data/secantusd.toml" \
         --host 127.0.0.1 --port "$port" --storage-path "$data/db" "$@" \
         >>"$data/server.log" 2>&1 </dev/null &
       echo $! > "$data/secantusd.pid")
    fi
    pid=$(cat "$data/secantusd.pid")
    local deadline=$((SECONDS + 60))
    until mongodb_ping "$py" "$url"; do
      if ! kill -0 "$pid" 2>/dev/null; then
        echo "SecantusDB ($data) exited while starting on 127.0.0.1:$port; its log $data/server.log:" >&2
        tail -n 30 "$data/server.log" >&2; return 1
      fi
      if [ "$SECONDS" -ge "$deadline" ]; then
        echo "SecantusDB ($data) did not answer ping on 127.0.0.1:$port within 60 s; its log $data/server.log:" >&2
        tail -n 30 "$data/server.log" >&2; return 1
      fi
      sleep 0.5
    done
  fi
  MONGODB_URL=$url
  MONGODB_PORT=$port
  MONGODB_PYTHON=$py
  MONGODB_DATA_DIR=$data
  export MONGODB_URL MONGODB_PORT MONGODB_PYTHON MONGODB_DATA_DIR
}

# mongodb_stop NAME: stops the server mongodb_ensure started for NAME (by its pid).
mongodb_stop() {
  local data; data="$(mongodb_root)/$1"
  local pid
  pid=$(cat "$data/secantusd.pid" 2>/dev/null) || return 0
  # Only a process that still is our server (pids get reused).
  tr '\0' ' ' < "/proc/$pid/cmdline" 2>/dev/null | grep -q -- "--storage-path $data/db" \
    || { rm -f "$data/secantusd.pid"; return 0; }
  kill "$pid" 2>/dev/null || { rm -f "$data/secantusd.pid"; return 0; }
  local _
  for _ in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
  kill -9 "$pid" 2>/dev/null || true
  rm -f "$data/secantusd.pid"
}
