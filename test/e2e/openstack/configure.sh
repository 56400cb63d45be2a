#!/bin/bash
# Write every config file of kadd's e2e cloud under $STATE/etc. Safe to re-run: the files are
# regenerated, databases and keys are untouched. Called by start.sh.
set -euo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/common.sh"
require_root
umask 022

mkdir -p "$ETC"/{keystone,glance,placement,nova,neutron/plugins/ml2,cinder,octavia,rabbitmq} \
         "$RUN" "$LOG" "$STATE"/{keystone/fernet-keys,keystone/credential-keys,glance/images,glance/staging,glance/tasks,nova/instances,nova/tmp,neutron/tmp,cinder/tmp,cinder/volumes,cinder/conversion,octavia/tmp,placement/tmp,cache,mysql,rabbitmq} \
         "$RUN/mysqld"
chmod 755 "$STATE"   # mysqld (user mysql) must traverse it; secrets are in 0600 files
chown mysql:mysql "$STATE/mysql" "$RUN/mysqld"
chmod 700 "$STATE/keystone/fernet-keys" "$STATE/keystone/credential-keys"

# ---------------------------------------------------------------- mariadb
cat > "$ETC/my.cnf" <<EOC
[client]
socket = $RUN/mysqld/mysqld.sock
[mysqld]
user = mysql
datadir = $STATE/mysql/data
socket = $RUN/mysqld/mysqld.sock
pid-file = $RUN/mysqld/mysqld.pid
log-error = $LOG/mysqld.log
bind-address = $IP
port = $DB_PORT
skip-name-resolve
max_connections = 1000
innodb_buffer_pool_size = 128M
character-set-server = utf8
collation-server = utf8_general_ci
EOC

# ---------------------------------------------------------------- rabbitmq
cat > "$ETC/rabbitmq/rabbitmq.conf" <<EOC
listeners.tcp.default = $IP:$RABBIT_PORT
loopback_users.guest = true
log.file.level = info
EOC
echo '[].' > "$ETC/rabbitmq/enabled_plugins"

AUTH_URL=http://$IP:$KEYSTONE_PORT/v3
authtoken() {  # $1 = service user name
cat <<EOC
[keystone_authtoken]
www_authenticate_uri = http://$IP:$KEYSTONE_PORT
auth_url = http://$IP:$KEYSTONE_PORT
auth_type = password
project_domain_name = Default
user_domain_name = Default
project_name = service
username = $1
password = $OS_PASSWORD_SVC
region_name = $REGION
service_token_roles = service
service_token_roles_required = true
EOC
}
svcauth() {  # $1 section, $2 user
cat <<EOC
[$1]
auth_url = http://$IP:$KEYSTONE_PORT
auth_type = password
project_domain_name = Default
user_domain_name = Default
project_name = service
username = $2
password = $OS_PASSWORD_SVC
region_name = $REGION
EOC
}

# ---------------------------------------------------------------- keystone
cat > "$ETC/keystone/keystone.conf" <<EOC
[DEFAULT]
log_file = $LOG/keystone.log
[database]
connection = $DBURL/keystone
[token]
provider = fernet
expiration = 43200
[fernet_tokens]
key_repository = $STATE/keystone/fernet-keys
[fernet_receipts]
key_repository = $STATE/keystone/fernet-keys
[credential]
key_repository = $STATE/keystone/credential-keys
[oslo_policy]
enforce_new_defaults = false
enforce_scope = false
EOC

# ---------------------------------------------------------------- glance
cat > "$ETC/glance/glance-api.conf" <<EOC
[DEFAULT]
bind_host = $IP
bind_port = $GLANCE_PORT
workers = 1
log_file = $LOG/glance-api.log
enabled_backends = file:file
show_image_direct_url = false
[database]
connection = $DBURL/glance
[glance_store]
default_backend = file
[file]
filesystem_store_datadir = $STATE/glance/images
[os_glance_staging_store]
filesystem_store_datadir = $STATE/glance/staging
[os_glance_tasks_store]
filesystem_store_datadir = $STATE/glance/tasks
[paste_deploy]
flavor = keystone
config_file = /etc/glance/glance-api-paste.ini
[oslo_concurrency]
lock_path = $STATE/glance
$(authtoken glance)
EOC

# ---------------------------------------------------------------- placement
cat > "$ETC/placement/placement.conf" <<EOC
[DEFAULT]
log_file = $LOG/placement-api.log
[api]
auth_strategy = keystone
[placement_database]
connection = $DBURL/placement
[oslo_concurrency]
lock_path = $STATE/placement/tmp
$(authtoken placement)
EOC

# ---------------------------------------------------------------- nova
cp /etc/nova/api-paste.ini "$ETC/nova/api-paste.ini"
cat > "$ETC/nova/nova.conf" <<EOC
[DEFAULT]
host = $OS_HOSTNAME
my_ip = $IP
my_block_storage_ip = $IP
transport_url = $TRANSPORT
compute_driver = fake.FakeDriver
state_path = $STATE/nova
instances_path = $STATE/nova/instances
enabled_apis = osapi_compute
osapi_compute_listen = $IP
osapi_compute_workers = 1
vif_plugging_is_fatal = false
vif_plugging_timeout = 0
# fake driver: report plenty of capacity, never run out while testing
cpu_allocation_ratio = 16.0
ram_allocation_ratio = 1.5
[wsgi]
api_paste_config = $ETC/nova/api-paste.ini
[conductor]
workers = 1
[scheduler]
workers = 1
discover_hosts_in_cells_interval = 30
[filter_scheduler]
enabled_filters = ComputeFilter,ComputeCapabilitiesFilter,ImagePropertiesFilter
[glance]
region_name = $REGION
$(svcauth cinder nova)
os_region_name = $REGION
catalog_info = volumev3::publicURL
$(svcauth placement nova)
$(svcauth neutron nova)
$(svcauth service_user nova)
send_service_user_token = true
$(authtoken nova)
[oslo_concurrency]
lock_path = $STATE/nova/tmp
[oslo_messaging_notifications]
driver = noop
[vnc]
enabled = false
[spice]
enabled = false
[serial_console]
enabled = false
[os_vif_ovs]
[compute]
live_migration_wait_for_vif_plug = false
EOC

# DB credentials live in a separate file: nova-compute must not get them
# (it logs "No DB access allowed in nova-compute" otherwise).  nova-api,
# conductor, scheduler and nova-manage are given both files.
cat > "$ETC/nova/nova-db.conf" <<EOC
[api_database]
connection = $DBURL/nova_api
[database]
connection = $DBURL/nova
EOC

# ---------------------------------------------------------------- neutron
cat > "$ETC/neutron/neutron.conf" <<EOC
[DEFAULT]
host = $OS_HOSTNAME
bind_host = $IP
bind_port = $NEUTRON_PORT
core_plugin = ml2
service_plugins = router
auth_strategy = keystone
api_workers = 1
rpc_workers = 1
rpc_state_report_workers = 1
transport_url = $TRANSPORT
state_path = $STATE/neutron
api_paste_config = /etc/neutron/api-paste.ini
log_file = $LOG/neutron-server.log
notify_nova_on_port_status_changes = true
notify_nova_on_port_data_changes = true
allow_overlapping_ips = true
dhcp_agent_notification = false
[database]
connection = $DBURL/neutron
$(svcauth nova neutron)
[oslo_concurrency]
lock_path = $STATE/neutron/tmp
[oslo_messaging_notifications]
driver = noop
$(authtoken neutron)
EOC
cat > "$ETC/neutron/plugins/ml2/ml2_conf.ini" <<EOC
[ml2]
type_drivers = flat,vlan,vxlan,local
tenant_network_types = vxlan
# kadd_agentless = pylib/kadd_e2e_drivers/neutron_mech.py (binds ports without agents)
mechanism_drivers = kadd_agentless
extension_drivers = port_security
[ml2_type_flat]
flat_networks = *
[ml2_type_vlan]
network_vlan_ranges = physnet1:100:200
[ml2_type_vxlan]
vni_ranges = 1:1000
[securitygroup]
enable_security_group = true
firewall_driver = noop
EOC

# ---------------------------------------------------------------- cinder
cat > "$ETC/cinder/cinder.conf" <<EOC
[DEFAULT]
host = $OS_HOSTNAME
my_ip = $IP
transport_url = $TRANSPORT
auth_strategy = keystone
state_path = $STATE/cinder
volumes_dir = $STATE/cinder/volumes
image_conversion_dir = $STATE/cinder/conversion
api_paste_config = /etc/cinder/api-paste.ini
osapi_volume_listen = $IP
osapi_volume_workers = 1
enabled_backends = fake
# one availability zone, the same name in nova (host aggregate made by start.sh) and cinder
storage_availability_zone = $AZ
default_availability_zone = $AZ
default_volume_type = __DEFAULT__
log_dir = $LOG
[fake]
volume_driver = kadd_e2e_drivers.cinder_fake.NoCopyFakeVolumeDriver
volume_backend_name = fake
target_helper = fake
[database]
connection = $DBURL/cinder
[coordination]
backend_url = file://$STATE/cinder
$(svcauth nova cinder)
[oslo_concurrency]
lock_path = $STATE/cinder/tmp
[oslo_messaging_notifications]
driver = noop
$(authtoken cinder)
EOC

# ---------------------------------------------------------------- octavia (API only)
# No worker, health manager, housekeeping or amphora: the provider is kadd_noop
# (pylib/kadd_e2e_drivers/octavia_provider.py = Octavia's noop_driver + moving PENDING_* objects to
# ACTIVE/DELETED after KADD_E2E_OCTAVIA_DELAY s with Octavia's own DriverUpdater). The network driver
# is the no-op one too: VIPs and member subnets are not looked up in neutron.
cat > "$ETC/octavia/octavia.conf" <<EOC
[DEFAULT]
log_file = $LOG/octavia-api.log
[api_settings]
bind_host = $IP
bind_port = $OCTAVIA_PORT
auth_strategy = keystone
enabled_provider_drivers = kadd_noop:kadd e2e no-op provider (objects go ACTIVE after a delay),noop_driver:Octavia no-op provider (objects stay PENDING)
default_provider_driver = kadd_noop
[controller_worker]
network_driver = network_noop_driver
compute_driver = compute_noop_driver
amphora_driver = amphora_noop_driver
volume_driver = volume_noop_driver
[database]
connection = $DBURL/octavia
[oslo_concurrency]
lock_path = $STATE/octavia/tmp
[oslo_messaging_notifications]
driver = noop
$(svcauth service_auth octavia)
$(authtoken octavia)
EOC

# ---------------------------------------------------------------- openrc (python3-openstackclient, if installed)
openrc() {  # USER PROJECT
cat <<EOC
# source me: . $STATE/openrc-$1
export OS_AUTH_URL=$AUTH_URL
export OS_IDENTITY_API_VERSION=3
export OS_USERNAME=$1
export OS_PASSWORD=$OS_PASSWORD_SVC
export OS_PROJECT_NAME=$2
export OS_USER_DOMAIN_NAME=Default
export OS_PROJECT_DOMAIN_NAME=Default
export OS_REGION_NAME=$REGION
export OS_INTERFACE=public
EOC
}
openrc admin admin > "$STATE/openrc-admin"
openrc kadd kadd > "$STATE/openrc-kadd"
# configs and openrc files hold passwords: root only (every service runs as root; mysqld's my.cnf has none)
chmod -R go= "$ETC"/{keystone,glance,placement,nova,neutron,cinder,octavia} "$STATE"/openrc-*
# stevedore's entry-point cache: rebuilt on first use, so a changed pylib/*.dist-info is always seen
rm -rf "$STATE/cache/python-entrypoints"
log "configure.sh: configs written under $ETC"
