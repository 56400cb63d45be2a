#!/bin/bash
# Start kadd's e2e OpenStack (the first run also initialises MariaDB, Keystone and every schema,
# then seeds flavors, image, keypair, AZ, quotas and writes $STATE/clouds.yaml and $STATE/e2e.env).
# Every process is started with setsid; "pid starttime" goes to $STATE/run/NAME.pid.
# Idempotent: on a cloud that is already up it only checks (status.sh) and exits.
set -euo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/common.sh"
require_root
T0=$(date +%s)
command -v keystone-manage >/dev/null || die "OpenStack packages missing: run test/e2e/openstack/install.sh first"
if [ -e "$MARK/seeded" ] && [ -s "$STATE/clouds.yaml" ] && "$E2E_DIR/status.sh" --quiet; then
  log "start.sh: cloud already running, every API answers ($STATE/clouds.yaml)"
  exit 0
fi
mkdir -p "$STATE" "$MARK"
"$E2E_DIR/configure.sh"
done_mark() { [ -e "$MARK/$1" ]; }
mark() { touch "$MARK/$1"; }

# ------------------------------------------------------------ port check
# refuse to start a service whose port is already taken by a process we did not start
port_free_or_ours() {  # NAME PORT
  pid_alive "$1" && return 0
  if ss -ltnH "sport = :$2" 2>/dev/null | grep -q .; then
    echo "port $2 (for $1) is already in use by another process:" >&2
    ss -ltnpH "sport = :$2" >&2; exit 1
  fi
}
for np in mysqld:$DB_PORT epmd:4369 rabbitmq:$RABBIT_PORT rabbitmq:25672 "${APIS[@]}"; do
  port_free_or_ours "${np%%:*}" "${np##*:}"
done

# ------------------------------------------------------------ MariaDB
if [ ! -d "$STATE/mysql/data/mysql" ]; then
  log "initialising MariaDB datadir"
  mariadb-install-db --defaults-file="$ETC/my.cnf" --user=mysql \
     --auth-root-authentication-method=socket --skip-test-db > "$LOG/mysql-install.log" 2>&1
fi
start_bg mysqld /usr/sbin/mariadbd --defaults-file="$ETC/my.cnf"
wait_up mysqld 60 $MYSQL -e 'select 1'
if ! done_mark dbs; then
  for db in keystone glance placement nova_api nova nova_cell0 neutron cinder; do
    $MYSQL -e "CREATE DATABASE IF NOT EXISTS $db"
  done
  $MYSQL -e "CREATE USER IF NOT EXISTS 'openstack'@'127.0.0.1' IDENTIFIED BY '$OS_PASSWORD_SVC';
             GRANT ALL PRIVILEGES ON *.* TO 'openstack'@'127.0.0.1'; FLUSH PRIVILEGES;"
  mark dbs
fi
if ! done_mark db-octavia; then   # separate mark: added to clouds started before Octavia was
  $MYSQL -e "CREATE DATABASE IF NOT EXISTS octavia"
  mark db-octavia
fi

# ------------------------------------------------------------ RabbitMQ
EPMD=$(command -v epmd || ls /usr/lib/erlang/erts-*/bin/epmd | head -1)
start_bg epmd "$EPMD" -address 127.0.0.1 -port 4369
rabbit_env=(env HOME="$STATE/rabbitmq" RABBITMQ_NODENAME=rabbit@localhost
  RABBITMQ_NODE_IP_ADDRESS=$IP RABBITMQ_NODE_PORT=$RABBIT_PORT RABBITMQ_DIST_PORT=25672
  RABBITMQ_MNESIA_BASE="$STATE/rabbitmq/mnesia" RABBITMQ_LOG_BASE="$LOG/rabbitmq"
  RABBITMQ_CONFIG_FILE="$ETC/rabbitmq/rabbitmq" RABBITMQ_ENABLED_PLUGINS_FILE="$ETC/rabbitmq/enabled_plugins"
  RABBITMQ_PID_FILE="$RUN/rabbitmq-erl.pid"
  RABBITMQ_SERVER_ADDITIONAL_ERL_ARGS="-kernel inet_dist_use_interface {127,0,0,1}")
wait_for epmd 10 bash -c "exec 3<>/dev/tcp/127.0.0.1/4369"
start_bg rabbitmq "${rabbit_env[@]}" /usr/lib/rabbitmq/bin/rabbitmq-server
wait_up rabbitmq 120 bash -c "exec 3<>/dev/tcp/127.0.0.1/$RABBIT_PORT"

# ------------------------------------------------------------ Keystone
if ! done_mark keystone-db; then
  log "keystone db_sync"
  keystone-manage --config-file "$ETC/keystone/keystone.conf" db_sync >> "$LOG/keystone-manage.log" 2>&1
  mark keystone-db
fi
[ -e "$STATE/keystone/fernet-keys/0" ] || keystone-manage --config-file "$ETC/keystone/keystone.conf" fernet_setup --keystone-user root --keystone-group root >> "$LOG/keystone-manage.log" 2>&1
[ -e "$STATE/keystone/credential-keys/0" ] || keystone-manage --config-file "$ETC/keystone/keystone.conf" credential_setup --keystone-user root --keystone-group root >> "$LOG/keystone-manage.log" 2>&1
if ! done_mark keystone-bootstrap; then
  keystone-manage --config-file "$ETC/keystone/keystone.conf" bootstrap \
    --bootstrap-password "$OS_PASSWORD_SVC" --bootstrap-username admin \
    --bootstrap-project-name admin --bootstrap-role-name admin \
    --bootstrap-service-name keystone --bootstrap-region-id "$REGION" \
    --bootstrap-admin-url "http://$IP:$KEYSTONE_PORT/v3/" \
    --bootstrap-internal-url "http://$IP:$KEYSTONE_PORT/v3/" \
    --bootstrap-public-url "http://$IP:$KEYSTONE_PORT/v3/" >> "$LOG/keystone-manage.log" 2>&1
  mark keystone-bootstrap
fi

# uwsgi_app NAME PORT PROCESSES WSGI_SCRIPT [--env K=V | --pyargv ...]...
uwsgi_app() {
  local name=$1 port=$2 procs=$3 script=$4; shift 4
  start_bg "$name" uwsgi --plugin python3 --master --die-on-term --need-app \
    --http-socket "$IP:$port" --wsgi-file "$script" --processes "$procs" --threads 1 \
    --enable-threads --lazy-apps --buffer-size 65535 --thunder-lock --no-orphans --add-header "Connection: close" \
    --env "PYTHONPATH=$PYTHONPATH" "$@"
}
uwsgi_app keystone $KEYSTONE_PORT 2 /usr/bin/keystone-wsgi-public --env "OS_KEYSTONE_CONFIG_DIR=$ETC/keystone"
wait_up keystone 60 http_up "http://$IP:$KEYSTONE_PORT/v3"
export KADD_OS_PASSWORD=$OS_PASSWORD_SVC KADD_OS_STATE=$STATE KADD_OS_AZ=$AZ KADD_OS_HOST=$OS_HOSTNAME
if ! done_mark keystone-registered; then
  /usr/bin/python3 "$E2E_DIR/bootstrap.py" keystone
  mark keystone-registered
  mark keystone-octavia
fi
if ! done_mark keystone-octavia; then   # a cloud registered before Octavia was: idempotent re-run
  /usr/bin/python3 "$E2E_DIR/bootstrap.py" keystone
  mark keystone-octavia
fi

# ------------------------------------------------------------ database schemas
if ! done_mark schemas; then
  log "schema migrations (glance, placement, nova, neutron, cinder) in parallel"
  ( glance-manage --config-file "$ETC/glance/glance-api.conf" db_sync > "$LOG/dbsync-glance.log" 2>&1 ) &
  p1=$!
  ( placement-manage --config-file "$ETC/placement/placement.conf" db sync > "$LOG/dbsync-placement.log" 2>&1 ) &
  p2=$!
  ( N="nova-manage --config-file $ETC/nova/nova.conf --config-file $ETC/nova/nova-db.conf"
    $N api_db sync
    $N cell_v2 list_cells | grep -q ' cell0 ' || $N cell_v2 map_cell0 --database_connection "$DBURL/nova_cell0"
    $N cell_v2 list_cells | grep -q ' cell1 ' || $N cell_v2 create_cell --name cell1 --verbose
    $N db sync ) > "$LOG/dbsync-nova.log" 2>&1 &
  p3=$!
  ( neutron-db-manage --config-file "$ETC/neutron/neutron.conf" \
      --config-file "$ETC/neutron/plugins/ml2/ml2_conf.ini" upgrade heads > "$LOG/dbsync-neutron.log" 2>&1 ) &
  p4=$!
  ( cinder-manage --config-file "$ETC/cinder/cinder.conf" db sync > "$LOG/dbsync-cinder.log" 2>&1 ) &
  p5=$!
  rc=0
  for p in $p1 $p2 $p3 $p4 $p5; do wait $p || rc=1; done
  [ $rc = 0 ] || { echo "a schema migration failed, see $LOG/dbsync-*.log" >&2; exit 1; }
  mark schemas
fi
if ! done_mark schema-octavia; then
  log "schema migration (octavia)"
  octavia-db-manage --config-file "$ETC/octavia/octavia.conf" upgrade head > "$LOG/dbsync-octavia.log" 2>&1 \
    || { echo "octavia schema migration failed, see $LOG/dbsync-octavia.log" >&2; exit 1; }
  mark schema-octavia
fi

# ------------------------------------------------------------ OpenStack services
start_bg glance-api glance-api --config-file "$ETC/glance/glance-api.conf"
uwsgi_app placement-api $PLACEMENT_PORT 1 /usr/bin/placement-api --env "OS_PLACEMENT_CONFIG_DIR=$ETC/placement"
start_bg neutron-server neutron-server --config-file "$ETC/neutron/neutron.conf" \
  --config-file "$ETC/neutron/plugins/ml2/ml2_conf.ini"
uwsgi_app cinder-api $CINDER_PORT 1 /usr/bin/cinder-wsgi \
  --pyargv "--config-file $ETC/cinder/cinder.conf --log-file $LOG/cinder-api.log"
start_bg cinder-scheduler cinder-scheduler --config-file "$ETC/cinder/cinder.conf" --log-file "$LOG/cinder-scheduler.log"
start_bg cinder-volume cinder-volume --config-file "$ETC/cinder/cinder.conf" --log-file "$LOG/cinder-volume.log"
uwsgi_app nova-api $NOVA_PORT 2 /usr/bin/nova-api-wsgi --env "OS_NOVA_CONFIG_DIR=$ETC/nova" \
  --env "OS_NOVA_CONFIG_FILES=api-paste.ini;nova.conf;nova-db.conf"
for s in conductor scheduler; do
  start_bg nova-$s nova-$s --config-file "$ETC/nova/nova.conf" --config-file "$ETC/nova/nova-db.conf" --log-file "$LOG/nova-$s.log"
done
start_bg nova-compute nova-compute --config-file "$ETC/nova/nova.conf" --log-file "$LOG/nova-compute.log"
# KADD_E2E_OCTAVIA_DELAY: seconds an object stays PENDING_* before the kadd_noop provider makes it final
uwsgi_app octavia-api $OCTAVIA_PORT 1 /usr/bin/octavia-wsgi \
  --pyargv "--config-file $ETC/octavia/octavia.conf" --env "KADD_E2E_OCTAVIA_DELAY=${KADD_E2E_OCTAVIA_DELAY:-2}"

wait_up glance-api 120 http_up "http://$IP:$GLANCE_PORT/"
wait_up placement-api 120 http_up "http://$IP:$PLACEMENT_PORT/"
wait_up neutron-server 180 http_up "http://$IP:$NEUTRON_PORT/"
wait_up cinder-api 120 http_up "http://$IP:$CINDER_PORT/"
wait_up nova-api 120 http_up "http://$IP:$NOVA_PORT/"
wait_up octavia-api 120 http_up "http://$IP:$OCTAVIA_PORT/"
log "all APIs answer"

if ! done_mark host-mapped; then
  # map the compute host into cell1 (nova-scheduler also does it every 30s)
  N="nova-manage --config-file $ETC/nova/nova.conf --config-file $ETC/nova/nova-db.conf"
  mapped=0
  for i in $(seq 1 40); do
    pid_alive nova-compute || { echo "nova-compute died, see $LOG/nova-compute.log" >&2; tail -5 "$LOG/nova-compute.log" >&2; exit 1; }
    $N cell_v2 discover_hosts > /dev/null 2>&1 || true
    if $N cell_v2 list_hosts 2>/dev/null | grep -q " $OS_HOSTNAME "; then mapped=1; break; fi
    sleep 2
  done
  [ $mapped = 1 ] || { echo "compute host $OS_HOSTNAME never registered, see $LOG/nova-compute.log" >&2; exit 1; }
  log "compute host $OS_HOSTNAME mapped to cell1"
  mark host-mapped
fi
/usr/bin/python3 "$E2E_DIR/bootstrap.py" seed
mark seeded
"$E2E_DIR/status.sh"
log "start.sh: cloud up in $(( $(date +%s) - T0 ))s; clouds.yaml: $STATE/clouds.yaml (clouds kadd, kadd-admin), env: $STATE/e2e.env"
