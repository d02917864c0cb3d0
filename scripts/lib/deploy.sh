# shellcheck shell=bash
# Checks of deploy/ that are not Rust, for scripts/test.
#
# deploy_verify_unit BIN → `systemd-analyze verify` of deploy/logferry.service
#   and its hardening score (`systemd-analyze security --offline`, exposure
#   at most 2.0 of 10). verify wants the ExecStart binary to exist, and
#   the unit names where it is installed (/usr/local/bin/logferry), so what
#   is verified is a copy whose ExecStart points at BIN, the binary cargo
#   just built; nothing else of the unit changes. Any warning fails (verify
#   itself exits 0 on an unknown key).
# yaml_python → prints a python3 that can `import yaml` (Debian's
#   python3-yaml is installed with apt-get when none can).

deploy_verify_unit() {
  local bin=$1 unit=deploy/logferry.service
  [ -x "$bin" ] || { echo "deploy_verify_unit: $bin is not an executable" >&2; return 1; }
  local dir; dir=$(mktemp -d)
  sed "s#/usr/local/bin/logferry#$bin#g" "$unit" > "$dir/logferry.service"
  local out status=0
  out=$(cd "$dir" && systemd-analyze verify ./logferry.service 2>&1) || status=$?
  if [ $status != 0 ] || [ -n "$out" ]; then
    echo "systemd-analyze verify $unit (ExecStart → $bin) complains:" >&2
    echo "$out" >&2
    rm -rf "$dir"; return 1
  fi
  if ! out=$(cd "$dir" && systemd-analyze security --offline=yes --threshold=20 ./logferry.service 2>&1); then
    echo "$unit is less hardened than it was (systemd-analyze security, threshold 2.0):" >&2
    echo "$out" | tail -n 25 >&2
    rm -rf "$dir"; return 1
  fi
  echo "$out" | tail -n 1 >&2
  rm -rf "$dir"
}

yaml_python() {
  local py
  for py in python3 /usr/bin/python3; do
    command -v "$py" >/dev/null 2>&1 && "$py" -c 'import yaml' >/dev/null 2>&1 && { command -v "$py"; return 0; }
  done
  echo "==> installing python3-yaml (apt-get)" >&2
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq python3 python3-yaml >/dev/null || return 1
  /usr/bin/python3 -c 'import yaml' && echo /usr/bin/python3
}
