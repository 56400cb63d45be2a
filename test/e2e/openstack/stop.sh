#!/bin/bash
# Stop kadd's e2e OpenStack: only the processes start.sh started, found by their recorded PIDs
# ("pid starttime", so a reused PID is never hit). Each is a setsid leader: TERM goes to its
# process group (the service and its own workers). Reverse start order; KILL after 30 s.
set -uo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/common.sh"
require_root
signal_one() {  # NAME SIG
  local pid st
  pid_alive "$1" || return 1
  read -r pid st < "$RUN/$1.pid"
  if [ "$(ps -o pgid= -p "$pid" | tr -d ' ')" = "$pid" ]; then
    kill -"$2" -- -"$pid" 2>/dev/null || true
  else
    kill -"$2" "$pid" 2>/dev/null || true
  fi
}
ORDER=()
for ((i = ${#SERVICES[@]} - 1; i >= 0; i--)); do ORDER+=("${SERVICES[i]}"); done
for n in "${ORDER[@]}"; do
  if signal_one "$n" TERM; then log "TERM $n"; fi
  # the message bus, epmd and the database go down one at a time, after their clients
  case $n in rabbitmq|epmd|mysqld)
    for i in $(seq 1 30); do pid_alive "$n" || break; sleep 1; done ;;
  esac
done
for i in $(seq 1 30); do
  alive=0
  for n in "${ORDER[@]}"; do pid_alive "$n" && alive=1; done
  [ $alive = 0 ] && break
  sleep 1
done
for n in "${ORDER[@]}"; do
  if pid_alive "$n"; then log "KILL $n"; signal_one "$n" KILL; fi
  rm -f "$RUN/$n.pid"
done
log "stop.sh: stopped (state kept in $STATE; start.sh brings it back)"
