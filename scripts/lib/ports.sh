# shellcheck shell=bash
# Ports for the throwaway servers of scripts/test, scripts/quickstart and
# the benches. A port that another process holds (another clone's server,
# anything else) is never fought over: the server goes to the next free
# port, and the caller is told which.
#
# port_taken PORT        → 0 when something accepts TCP on 127.0.0.1:PORT
#                          or a socket here holds it (TIME-WAIT included)
# port_pick PORT WHAT    → prints PORT when it is free, else the first free
#                          port above it (saying so on stderr, naming WHAT)
# port_of_cmdline PID FLAG → the value after FLAG in a process's command line

# A port is taken when something accepts on it, and also when any TCP
# socket here has it as its local port (`ss`, all states): the test ports
# lie in Linux's ephemeral range (32768-60999), so a client connection that
# closed a moment ago can sit in TIME-WAIT on one, and a server then fails
# to bind it ("Address already in use") although nothing listens there.
port_taken() {
  (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null && return 0
  command -v ss >/dev/null 2>&1 && [ -n "$(ss -Htan "sport = :$1" 2>/dev/null)" ]
}

port_pick() {
  local want=$1 what=$2 p
  for p in $(seq "$want" $((want + 200))); do
    port_taken "$p" && continue
    [ "$p" = "$want" ] \
      || echo "==> 127.0.0.1:$want is taken by another process (not this clone's $what): using 127.0.0.1:$p" >&2
    echo "$p"
    return 0
  done
  echo "no free port on 127.0.0.1 in $want..$((want + 200)) for $what" >&2
  return 1
}

port_of_cmdline() {
  local pid=$1 flag=$2
  tr '\0' '\n' < "/proc/$pid/cmdline" 2>/dev/null | sed -n "/^$flag\$/{n;p;q}"
}
