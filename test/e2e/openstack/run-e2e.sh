#!/bin/bash
# `npm run test:e2e`: install kadd's e2e OpenStack if needed, start it if needed, then run the mocha
# e2e suite (test/e2e/**/*.e2e.test.ts) against it, with KADD_E2E_CLOUDS pointing to its clouds.yaml.
# Prints the measured install, start and suite times and the peak memory at the end.
# Env: KADD_OS_STATE (state dir, default /var/tmp/kadd-openstack), KADD_E2E_STOP=1 (stop the cloud
# afterwards; default: leave it running for the next run), extra args are passed to mocha.
set -uo pipefail
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$HERE/../../.." && pwd)
. "$HERE/common.sh"
require_root
now() { date +%s.%N; }
secs() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.1f", b - a }'; }
mem_used_mib() { free -m | awk '/^Mem:/ {print $3}'; }

mem_before=$(mem_used_mib)
t0=$(now)
bash "$HERE/install.sh" || die "install.sh failed"
t1=$(now)
bash "$HERE/start.sh" || die "start.sh failed; logs in $LOG"
t2=$(now)
[ -s "$STATE/clouds.yaml" ] || die "no $STATE/clouds.yaml after start.sh"

# sample memory while the suite runs: RSS of our recorded process groups, and system-wide used
peak_file=$(mktemp); echo "0 0" > "$peak_file"
(
  peak_rss=0 peak_used=0
  while :; do
    r=$(rss_total_kib); u=$(mem_used_mib)
    [ "$r" -gt "$peak_rss" ] && peak_rss=$r
    [ "$u" -gt "$peak_used" ] && peak_used=$u
    echo "$peak_rss $peak_used" > "$peak_file"
    sleep 2
  done
) &
sampler=$!

set -a; . "$STATE/e2e.env"; set +a
cd "$ROOT"
npx mocha --config test/e2e/.mocharc.e2e.json "$@"
rc=$?
t3=$(now)
kill "$sampler" 2>/dev/null; wait "$sampler" 2>/dev/null
read -r peak_rss peak_used < "$peak_file"; rm -f "$peak_file"
if [ "${KADD_E2E_STOP:-0}" = 1 ]; then bash "$HERE/stop.sh"; fi

echo
echo "e2e timings: install $(secs "$t0" "$t1") s, start $(secs "$t1" "$t2") s, suite $(secs "$t2" "$t3") s"
echo "e2e memory: peak RSS of the cloud's processes $((peak_rss / 1024)) MiB; system used before start ${mem_before} MiB, peak during suite ${peak_used} MiB"
exit $rc
