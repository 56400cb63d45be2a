#!/bin/bash
# Install the Debian 12 (bookworm) OpenStack Zed packages for kadd's e2e cloud.
# Idempotent: when every package is present it does nothing (about 0.5 s).
# Needs root. Never starts a service: a policy-rc.d (exit 101) is in place during the install.
set -euo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/common.sh"
require_root

export DEBIAN_FRONTEND=noninteractive
PKGS=(
  mariadb-server mariadb-client rabbitmq-server
  keystone
  placement-api
  glance-api
  # nova-compute needs "nova-compute-kvm | nova-compute-hypervisor"; the ironic flavour satisfies it
  # without libvirt/qemu. Its own config is never read (every service gets explicit --config-file).
  nova-api nova-conductor nova-scheduler nova-compute nova-compute-ironic
  neutron-server
  cinder-api cinder-scheduler cinder-volume
  # Octavia's API only (no worker, no amphora): the noop provider driver answers for it (configure.sh)
  octavia-api
  uwsgi-plugin-python3 python3-pymysql python3-keystoneauth1
  curl procps
)
missing=()
for p in "${PKGS[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
  log "install.sh: all ${#PKGS[@]} packages already installed"
  exit 0
fi

# Keep package postinst scripts from starting services. Only remove it afterwards if we created it.
created_policy=0
if [ ! -e /usr/sbin/policy-rc.d ]; then
  printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d
  chmod 755 /usr/sbin/policy-rc.d
  created_policy=1
fi
cleanup() { if [ "$created_policy" = 1 ]; then rm -f /usr/sbin/policy-rc.d; fi; }
trap cleanup EXIT

# Never let dbconfig-common / openstack-pkg-tools touch a database or register in keystone.
for p in keystone nova-common nova-api glance-common glance-api placement-common placement-api \
         neutron-common neutron-api neutron-server cinder-common cinder-api \
         octavia-common octavia-api; do
  echo "$p $p/configure_db boolean false"
  echo "$p $p/dbconfig-install boolean false"
  echo "$p $p/register-endpoint boolean false"
  echo "$p $p/create-admin-tenant boolean false"
done | debconf-set-selections 2>/dev/null || true

APT=(apt-get -o DPkg::Lock::Timeout=600 -q)
log "install.sh: installing ${#missing[@]} packages: ${missing[*]}"
"${APT[@]}" update
"${APT[@]}" install -y --no-install-recommends \
  -o Dpkg::Options::=--force-confdef -o Dpkg::Options::=--force-confold "${missing[@]}"
log "install.sh: done"
