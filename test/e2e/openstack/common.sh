# Shared settings and helpers for kadd's e2e OpenStack (sourced, not run).
# Everything lives under ONE state directory: $KADD_OS_STATE (default /var/tmp/kadd-openstack).
STATE=${KADD_OS_STATE:-/var/tmp/kadd-openstack}
# Debian's python3 (with the OpenStack libraries) must win over pyenv shims and the like.
export PATH=/usr/sbin:/usr/bin:/sbin:/bin:$PATH
OS_PASSWORD_SVC=${KADD_OS_PASSWORD:-kadd-e2e-secret}   # admin, service users, DB user, kadd user
OS_HOSTNAME=${KADD_OS_HOST:-kadd-e2e}                  # nova/cinder/neutron "host" name (stable across machines)
IP=127.0.0.1
REGION=RegionOne
AZ=${KADD_OS_AZ:-az1}
DB_PORT=${KADD_OS_DB_PORT:-3306}
RABBIT_PORT=${KADD_OS_RABBIT_PORT:-5672}
KEYSTONE_PORT=5000 GLANCE_PORT=9292 PLACEMENT_PORT=8778 NOVA_PORT=8774
NEUTRON_PORT=9696 CINDER_PORT=8776 OCTAVIA_PORT=9876
E2E_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ETC=$STATE/etc RUN=$STATE/run LOG=$STATE/log MARK=$STATE/done
DBURL="mysql+pymysql://openstack:${OS_PASSWORD_SVC}@${IP}:${DB_PORT}"
TRANSPORT="rabbit://guest:guest@${IP}:${RABBIT_PORT}/"
PYLIB=$E2E_DIR/pylib
export PYTHONPATH=$PYLIB${PYTHONPATH:+:$PYTHONPATH}
# stevedore caches entry points per sys.path; keep that cache inside the state dir
export XDG_CACHE_HOME=$STATE/cache
export ERL_EPMD_ADDRESS=127.0.0.1 ERL_EPMD_PORT=4369
MYSQL="mariadb --defaults-file=$ETC/my.cnf -uroot"
# Start order; stop.sh goes in reverse.
SERVICES=(mysqld epmd rabbitmq keystone glance-api placement-api neutron-server
          cinder-api cinder-scheduler cinder-volume
          nova-api nova-conductor nova-scheduler nova-compute octavia-api)
# name:port of every API, checked by start.sh and status.sh
APIS=(keystone:$KEYSTONE_PORT glance-api:$GLANCE_PORT placement-api:$PLACEMENT_PORT
      neutron-server:$NEUTRON_PORT cinder-api:$CINDER_PORT nova-api:$NOVA_PORT octavia-api:$OCTAVIA_PORT)

log() { echo "[$(date +%H:%M:%S)] $*" >&2; }
die() { echo "error: $*" >&2; exit 1; }
require_root() { [ "$(id -u)" = 0 ] || die "$(basename "$0") needs root (it runs apt-get / system daemons); run it with sudo"; }

# wait_for NAME SECONDS CMD... : poll CMD every second until it succeeds
wait_for() {
  local name=$1 t=$2; shift 2
  local i
  for ((i = 0; i < t; i++)); do
    if "$@" >/dev/null 2>&1; then return 0; fi
    sleep 1
  done
  echo "timeout after ${t}s waiting for $name" >&2
  return 1
}

# wait_up NAME SECONDS CMD... : like wait_for, but give up early if NAME's process died
wait_up() {
  local name=$1 t=$2; shift 2
  local i
  for ((i = 0; i < t; i++)); do
    if "$@" >/dev/null 2>&1; then return 0; fi
    if ! pid_alive "$name"; then
      echo "$name died; last lines of $LOG/$name.out:" >&2; tail -20 "$LOG/$name.out" >&2; return 1
    fi
    sleep 1
  done
  echo "timeout after ${t}s waiting for $name (see $LOG/$name.out and $LOG/$name.log)" >&2
  return 1
}

http_up() { curl -s -o /dev/null --max-time 3 "$1"; }

# start time (clock ticks since boot) of a PID, so a reused PID is never mistaken for ours
pid_start() { awk '{print $22}' "/proc/$1/stat" 2>/dev/null; }

# pid_alive NAME : true if the process recorded in $RUN/NAME.pid is still the one we started
pid_alive() {
  local f=$RUN/$1.pid pid st
  [ -f "$f" ] || return 1
  read -r pid st < "$f" || return 1
  [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null || return 1
  [ -z "$st" ] || [ "$(pid_start "$pid")" = "$st" ]
}

# start_bg NAME CMD... : start CMD in its own session (pgid == pid) and record "pid starttime"
start_bg() {
  local name=$1; shift
  if pid_alive "$name"; then log "$name already running (pid $(cut -d' ' -f1 "$RUN/$name.pid"))"; return 0; fi
  mkdir -p "$RUN" "$LOG"
  setsid "$@" >>"$LOG/$name.out" 2>&1 < /dev/null &
  local pid=$!
  echo "$pid $(pid_start "$pid")" > "$RUN/$name.pid"
  log "started $name pid $pid"
}

# pids_of_group PGID : every live process in that process group (our service and its workers)
pids_of_group() { ps -e -o pid=,pgid= | awk -v g="$1" '$2 == g {print $1}'; }

# rss_total_kib : sum of RSS of all processes in the recorded process groups
rss_total_kib() {
  local s pid st total=0 p r
  for s in "${SERVICES[@]}"; do
    pid_alive "$s" || continue
    read -r pid st < "$RUN/$s.pid"
    for p in $(pids_of_group "$pid"); do
      r=$(awk '/^VmRSS:/ {print $2}' "/proc/$p/status" 2>/dev/null || true)
      total=$((total + ${r:-0}))
    done
  done
  echo "$total"
}
