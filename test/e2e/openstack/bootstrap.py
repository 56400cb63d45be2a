#!/usr/bin/python3
"""Idempotent registration and seeding of kadd's e2e cloud (run by start.sh, Debian's python3).

usage: bootstrap.py keystone   # projects, users, roles, services, endpoints
       bootstrap.py seed       # AZ, flavors, image, keypair, quotas, external network (nova+glance+
                               # neutron+cinder must answer); writes clouds.yaml and e2e.env
Settings come from the environment (set by start.sh): KADD_OS_PASSWORD, KADD_OS_STATE, KADD_OS_AZ,
KADD_OS_HOST.
"""
import json
import os
import subprocess
import sys

from keystoneauth1 import session as ks_session
from keystoneauth1.identity import v3

IP = '127.0.0.1'
PW = os.environ['KADD_OS_PASSWORD']
STATE = os.environ['KADD_OS_STATE']
AZ = os.environ.get('KADD_OS_AZ', 'az1')
HOST = os.environ.get('KADD_OS_HOST', 'kadd-e2e')
REGION = 'RegionOne'
KS = 'http://%s:5000/v3' % IP
NOVA = 'http://%s:8774/v2.1' % IP
GLANCE = 'http://%s:9292/v2' % IP
NEUTRON = 'http://%s:9696/v2.0' % IP
CINDER = 'http://%s:8776/v3' % IP
SERVICES = [
    # service user, service name, type, url
    ('glance', 'glance', 'image', 'http://%s:9292' % IP),
    ('placement', 'placement', 'placement', 'http://%s:8778' % IP),
    ('nova', 'nova', 'compute', 'http://%s:8774/v2.1' % IP),
    ('neutron', 'neutron', 'network', 'http://%s:9696' % IP),
    ('cinder', 'cinderv3', 'volumev3', 'http://%s:8776/v3/%%(project_id)s' % IP),
    (None, 'cinder', 'block-storage', 'http://%s:8776/v3/%%(project_id)s' % IP),
    ('octavia', 'octavia', 'load-balancer', 'http://%s:9876' % IP),
]
# name, vcpus, ram MiB, disk GiB. FakeDriver reports 1000 vCPU / 800000 MiB / 600000 GiB, so
# e2e.huge (RAM above the host's max_unit) can never be placed: the server goes to ERROR with
# "No valid host was found".
FLAVORS = [
    ('e2e.small', 1, 512, 1),
    ('e2e.medium', 2, 4096, 20),
    ('e2e.huge', 64, 1000000, 20),
]
IMAGE = 'kadd-e2e-image'
KEYPAIR = 'kadd-e2e'
# quotas of the kadd project: finite (so kadd's quota check reads real numbers) but roomy;
# cores/ram leave room for e2e.huge so that it fails at scheduling, not at the quota check
NOVA_QUOTA = {'instances': 20, 'cores': 200, 'ram': 2000000, 'key_pairs': 20}
CINDER_QUOTA = {'volumes': 20, 'gigabytes': 1000, 'snapshots': 10}
NEUTRON_QUOTA = {'network': 20, 'subnet': 20, 'router': 10, 'port': 100,
                 'security_group': 20, 'security_group_rule': 200, 'floatingip': 10}


def sess(user, project):
    auth = v3.Password(auth_url=KS, username=user, password=PW, project_name=project,
                       user_domain_name='Default', project_domain_name='Default')
    return ks_session.Session(auth=auth)


def call(s, method, url, ok=(200, 201, 202, 204), **kw):
    r = s.request(url, method, raise_exc=False, **kw)
    if r.status_code not in ok:
        raise RuntimeError('%s %s -> %s %s' % (method, url, r.status_code, r.text[:500]))
    return r.json() if r.text else {}


def find(s, coll, **filters):
    q = '&'.join('%s=%s' % kv for kv in filters.items())
    items = call(s, 'GET', '%s/%s?%s' % (KS, coll, q))[coll]
    return items[0] if items else None


def ensure(s, coll, key, body, **filters):
    return find(s, coll, **filters) or call(s, 'POST', '%s/%s' % (KS, coll), json={key: body})[key]


def grant(s, project, user, role):
    call(s, 'PUT', '%s/projects/%s/users/%s/roles/%s' % (KS, project['id'], user['id'], role['id']))


def do_keystone():
    s = sess('admin', 'admin')
    dom = 'default'
    service_p = ensure(s, 'projects', 'project', {'name': 'service', 'domain_id': dom},
                       name='service', domain_id=dom)
    kadd_p = ensure(s, 'projects', 'project', {'name': 'kadd', 'domain_id': dom,
                    'description': 'kadd e2e tests'}, name='kadd', domain_id=dom)
    admin_r = find(s, 'roles', name='admin')
    member_r = ensure(s, 'roles', 'role', {'name': 'member'}, name='member')
    reader_r = ensure(s, 'roles', 'role', {'name': 'reader'}, name='reader')
    service_r = ensure(s, 'roles', 'role', {'name': 'service'}, name='service')
    kadd_u = ensure(s, 'users', 'user', {'name': 'kadd', 'domain_id': dom, 'password': PW,
                    'default_project_id': kadd_p['id']}, name='kadd', domain_id=dom)
    grant(s, kadd_p, kadd_u, member_r)
    grant(s, kadd_p, kadd_u, reader_r)
    # Octavia's stock (Zed) policy: writes need load-balancer_member (and member) in the project,
    # as on most public clouds; kadd gets exactly that, no policy override
    lb_member_r = ensure(s, 'roles', 'role', {'name': 'load-balancer_member'}, name='load-balancer_member')
    grant(s, kadd_p, kadd_u, lb_member_r)
    for user, name, stype, url in SERVICES:
        if user:
            u = ensure(s, 'users', 'user', {'name': user, 'domain_id': dom, 'password': PW},
                       name=user, domain_id=dom)
            grant(s, service_p, u, admin_r)
            grant(s, service_p, u, service_r)
        svc = ensure(s, 'services', 'service', {'name': name, 'type': stype, 'enabled': True},
                     type=stype)
        for iface in ('public', 'internal', 'admin'):
            ensure(s, 'endpoints', 'endpoint', {'service_id': svc['id'], 'interface': iface,
                   'url': url, 'region_id': REGION},
                   service_id=svc['id'], interface=iface, region_id=REGION)
    print('bootstrap.py: keystone projects, users, services and endpoints ready')


def seed_az(s):
    nova_h = {'OpenStack-API-Version': 'compute 2.53'}
    aggs = call(s, 'GET', NOVA + '/os-aggregates', headers=nova_h)['aggregates']
    agg = next((a for a in aggs if a['name'] == AZ), None)
    if agg is None:
        agg = call(s, 'POST', NOVA + '/os-aggregates', headers=nova_h,
                   json={'aggregate': {'name': AZ, 'availability_zone': AZ}})['aggregate']
    if HOST not in (agg.get('hosts') or []):
        call(s, 'POST', '%s/os-aggregates/%s/action' % (NOVA, agg['id']), headers=nova_h,
             json={'add_host': {'host': HOST}})


def seed_flavors(s):
    have = {f['name'] for f in call(s, 'GET', NOVA + '/flavors?is_public=None')['flavors']}
    for name, vcpus, ram, disk in FLAVORS:
        if name not in have:
            call(s, 'POST', NOVA + '/flavors', json={'flavor': {
                'name': name, 'vcpus': vcpus, 'ram': ram, 'disk': disk,
                'os-flavor-access:is_public': True}})


def seed_image(s):
    imgs = call(s, 'GET', GLANCE + '/images?name=' + IMAGE)['images']
    if imgs and imgs[0]['status'] == 'active':
        return imgs[0]['id']
    for img in imgs:
        call(s, 'DELETE', GLANCE + '/images/' + img['id'])
    # 1 MiB of zeros: the fake virt driver and the no-copy cinder driver never read it
    img = call(s, 'POST', GLANCE + '/images', json={
        'name': IMAGE, 'disk_format': 'raw', 'container_format': 'bare',
        'visibility': 'public', 'min_disk': 1, 'min_ram': 0, 'os_distro': 'ubuntu'})
    call(s, 'PUT', '%s/images/%s/file' % (GLANCE, img['id']), data=b'\0' * 1024 * 1024,
         headers={'Content-Type': 'application/octet-stream'})
    return img['id']


def seed_keypair(ks_kadd):
    have = [k['keypair']['name'] for k in call(ks_kadd, 'GET', NOVA + '/os-keypairs')['keypairs']]
    if KEYPAIR in have:
        return
    key = os.path.join(STATE, 'kadd-e2e-key')
    if not os.path.exists(key):
        subprocess.run(['ssh-keygen', '-q', '-t', 'ed25519', '-N', '', '-C', 'kadd-e2e', '-f', key],
                       check=True)
    with open(key + '.pub') as f:
        pub = f.read().strip()
    call(ks_kadd, 'POST', NOVA + '/os-keypairs', json={'keypair': {'name': KEYPAIR, 'public_key': pub}})


def seed_quotas(s, project_id):
    call(s, 'PUT', '%s/os-quota-sets/%s' % (NOVA, project_id), json={'quota_set': NOVA_QUOTA})
    # cinder's URL carries the caller's (admin's) project id; the target project goes last
    call(s, 'PUT', '%s/%s/os-quota-sets/%s' % (CINDER, s.get_project_id(), project_id),
         json={'quota_set': CINDER_QUOTA})
    call(s, 'PUT', '%s/quotas/%s' % (NEUTRON, project_id), json={'quota': NEUTRON_QUOTA})


def seed_external_net(s):
    nets = call(s, 'GET', NEUTRON + '/networks?name=public')['networks']
    if nets:
        net = nets[0]
    else:
        net = call(s, 'POST', NEUTRON + '/networks', json={'network': {
            'name': 'public', 'router:external': True, 'shared': False,
            'provider:network_type': 'flat', 'provider:physical_network': 'public'}})['network']
    if not call(s, 'GET', NEUTRON + '/subnets?network_id=' + net['id'])['subnets']:
        # TEST-NET-3: documentation range, never routed
        call(s, 'POST', NEUTRON + '/subnets', json={'subnet': {
            'name': 'public-subnet', 'network_id': net['id'], 'ip_version': 4,
            'cidr': '203.0.113.0/24', 'enable_dhcp': False,
            'allocation_pools': [{'start': '203.0.113.10', 'end': '203.0.113.250'}]}})


def write_clouds():
    auth_url = KS
    clouds = {'clouds': {}}
    for name, user, project in (('kadd', 'kadd', 'kadd'), ('kadd-admin', 'admin', 'admin')):
        clouds['clouds'][name] = {
            'auth': {'auth_url': auth_url, 'username': user, 'password': PW,
                     'project_name': project, 'user_domain_name': 'Default',
                     'project_domain_name': 'Default'},
            'auth_type': 'password', 'region_name': REGION, 'interface': 'public',
            'identity_api_version': 3,
        }
    # JSON is valid YAML; no PyYAML needed here
    path = os.path.join(STATE, 'clouds.yaml')
    fd = os.open(path + '.tmp', os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, 'w') as f:
        json.dump(clouds, f, indent=2)
        f.write('\n')
    os.replace(path + '.tmp', path)
    env = {
        'KADD_E2E_CLOUDS': path, 'KADD_E2E_CLOUD': 'kadd', 'KADD_E2E_ADMIN_CLOUD': 'kadd-admin',
        'KADD_E2E_REGION': REGION, 'KADD_E2E_AZ': AZ, 'KADD_E2E_IMAGE': IMAGE,
        'KADD_E2E_FLAVOR': 'e2e.small', 'KADD_E2E_FLAVOR_LARGE': 'e2e.medium',
        'KADD_E2E_FLAVOR_TOO_BIG': 'e2e.huge', 'KADD_E2E_KEYPAIR': KEYPAIR,
        'KADD_E2E_EXTERNAL_NETWORK': 'public', 'KADD_E2E_STATE': STATE,
        'OS_CLIENT_CONFIG_FILE': path,
    }
    with open(os.path.join(STATE, 'e2e.env'), 'w') as f:
        f.write('# source me, or read it as KEY=VALUE lines (written by start.sh)\n')
        for k, v in env.items():
            f.write('export %s=%s\n' % (k, v))


def do_seed():
    s = sess('admin', 'admin')
    kadd_p = find(s, 'projects', name='kadd', domain_id='default')
    seed_az(s)
    seed_flavors(s)
    seed_image(s)
    seed_keypair(sess('kadd', 'kadd'))
    seed_quotas(s, kadd_p['id'])
    seed_external_net(s)
    write_clouds()
    print('bootstrap.py: AZ %s, flavors, image %s, keypair %s, quotas, network public ready'
          % (AZ, IMAGE, KEYPAIR))


if __name__ == '__main__':
    {'keystone': do_keystone, 'seed': do_seed}[sys.argv[1]]()
