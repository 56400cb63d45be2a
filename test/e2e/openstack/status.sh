#!/bin/bash
# Check kadd's e2e OpenStack: every recorded process alive (PID + start time) and every API answering.
# Prints per service PID, process count, RSS/PSS and listening ports, plus the disk used.
# --quiet: print nothing, only the exit code. Exit 0 = all up, 1 = something down or not answering.
set -uo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/common.sh"
quiet=0; [ "${1:-}" = --quiet ] && quiet=1
out() { [ $quiet = 1 ] || printf "$@"; }
tot_rss=0 tot_pss=0 down=0
out '%-17s %-8s %-6s %5s %8s %8s  %s\n' SERVICE PID STATE PROCS RSS_MiB PSS_MiB LISTEN
for n in "${SERVICES[@]}"; do
  if pid_alive "$n"; then
    read -r pid st < "$RUN/$n.pid"
    pids=$(pids_of_group "$pid")
    rss=0 pss=0 cnt=0
    if [ $quiet = 0 ]; then
      for p in $pids; do
        r=$(awk '/^Rss:/{print $2}' "/proc/$p/smaps_rollup" 2>/dev/null); s=$(awk '/^Pss:/{print $2}' "/proc/$p/smaps_rollup" 2>/dev/null)
        rss=$((rss + ${r:-0})); pss=$((pss + ${s:-0})); cnt=$((cnt + 1))
      done
      ports=$(ss -ltnpH 2>/dev/null | awk -v pids=" $(echo $pids) " '{ while (match($0, /pid=[0-9]+/)) { p=substr($0, RSTART+4, RLENGTH-4); if (index(pids, " " p " ")) { print $4; break } ; $0=substr($0, RSTART+RLENGTH) } }' | sort -u | tr '\n' ' ')
    fi
    out '%-17s %-8s %-6s %5s %8d %8d  %s\n' "$n" "$pid" up "$cnt" $((rss / 1024)) $((pss / 1024)) "${ports:-}"
    tot_rss=$((tot_rss + rss)); tot_pss=$((tot_pss + pss))
  else
    out '%-17s %-8s %-6s\n' "$n" - DOWN; down=$((down + 1))
  fi
done
out '%-17s %-8s %-6s %5s %8d %8d\n' TOTAL "" "" "" $((tot_rss / 1024)) $((tot_pss / 1024))
bad_api=0
for np in "${APIS[@]}"; do
  if ! http_up "http://$IP:${np##*:}/"; then out 'API %s (port %s) does not answer\n' "${np%%:*}" "${np##*:}"; bad_api=1; fi
done
[ $quiet = 1 ] || echo "disk: $(du -sh "$STATE" 2>/dev/null | cut -f1) in $STATE"
[ $down = 0 ] && [ $bad_api = 0 ]
