"""Octavia provider driver for kadd's e2e cloud: the stock no-op driver, plus status convergence.

Octavia's own `noop_driver` (octavia.api.drivers.noop_driver) accepts every call and does nothing,
so every object it is given stays PENDING_CREATE / PENDING_UPDATE / PENDING_DELETE forever: the load
balancer is then immutable (409 on every further write) and nothing can be built on it.

A real provider (amphora, OVN) reports the outcome asynchronously through octavia-lib's driver
library, which the octavia-driver-agent process writes to the database with
octavia.api.drivers.driver_agent.driver_updater.DriverUpdater. This driver runs that same
DriverUpdater inside the API process (no driver-agent, no socket): KADD_E2E_OCTAVIA_DELAY seconds
(default 2) after each call it moves every PENDING_* object of the load balancer to its final state
(PENDING_CREATE/PENDING_UPDATE -> ACTIVE/ONLINE, PENDING_DELETE -> DELETED). During that window the
load balancer is PENDING_UPDATE and Octavia answers 409 to writes, as on a real cloud.
"""
import os
import threading

from octavia_lib.common import constants as lib_consts
from oslo_log import log as logging

from octavia.api.drivers.driver_agent import driver_updater
from octavia.api.drivers.noop_driver import driver as noop
from octavia.db import api as db_apis
from octavia.db import repositories as repo

LOG = logging.getLogger(__name__)
DELAY = float(os.environ.get('KADD_E2E_OCTAVIA_DELAY', '2'))
PENDING = ('PENDING_CREATE', 'PENDING_UPDATE', 'PENDING_DELETE')


def _final(obj):
    st = getattr(obj, 'provisioning_status', None)
    if st not in PENDING:
        return None
    if st == 'PENDING_DELETE':
        return {'id': obj.id, 'provisioning_status': 'DELETED'}
    return {'id': obj.id, 'provisioning_status': 'ACTIVE', 'operating_status': 'ONLINE'}


def _lb_id_of(session, kind, oid):
    """The load balancer id of an object, looked up in the database (after the API committed)."""
    if kind == 'lb':
        return oid
    if kind == 'listener':
        o = repo.ListenerRepository().get(session, id=oid)
        return o.load_balancer_id if o else None
    if kind == 'pool':
        o = repo.PoolRepository().get(session, id=oid)
        return o.load_balancer_id if o else None
    if kind == 'l7policy':
        o = repo.L7PolicyRepository().get(session, id=oid)
        return _lb_id_of(session, 'listener', o.listener_id) if o else None
    if kind == 'l7rule':
        o = repo.L7RuleRepository().get(session, id=oid)
        return _lb_id_of(session, 'l7policy', o.l7policy_id) if o else None
    return None


def converge(kind, oid, attempt=0):
    try:
        session = db_apis.get_session()
        lb_id = _lb_id_of(session, kind, oid)
        lb = repo.LoadBalancerRepository().get(session, id=lb_id) if lb_id else None
        if lb is None:
            if attempt < 5:  # the API may not have committed yet
                threading.Timer(1.0, converge, (kind, oid, attempt + 1)).start()
            return
        status = {'loadbalancers': [], 'listeners': [], 'pools': [], 'members': [],
                  'healthmonitors': [], 'l7policies': [], 'l7rules': []}

        # a (cascade) delete of the load balancer takes every child with it
        gone = lb.provisioning_status == 'PENDING_DELETE'

        def add(key, obj):
            s = {'id': obj.id, 'provisioning_status': 'DELETED'} if gone else _final(obj)
            if s:
                status[key].append(s)
        for li in lb.listeners or []:
            add('listeners', li)
            for p in li.l7policies or []:
                add('l7policies', p)
                for r in p.l7rules or []:
                    add('l7rules', r)
        for pool in lb.pools or []:
            add('pools', pool)
            if pool.health_monitor:
                add('healthmonitors', pool.health_monitor)
            for m in pool.members or []:
                add('members', m)
        s = _final(lb)
        if s:
            status['loadbalancers'].append(s)
        n = sum(len(v) for v in status.values())
        if n == 0:
            return
        LOG.info('kadd_noop: load balancer %s: %d pending object(s) -> final state', lb.id, n)
        res = driver_updater.DriverUpdater().update_loadbalancer_status(status)
        if res and res.get(lib_consts.STATUS_CODE) != lib_consts.DRVR_STATUS_CODE_OK:
            LOG.error('kadd_noop: status update of %s failed: %s', lb.id, res)
    except Exception:  # never let the timer thread die silently
        LOG.exception('kadd_noop: converging %s %s failed', kind, oid)


def later(kind, oid):
    if oid:
        threading.Timer(DELAY, converge, (kind, oid)).start()


class KaddNoopProviderDriver(noop.NoopProviderDriver):
    def loadbalancer_create(self, loadbalancer):
        super().loadbalancer_create(loadbalancer)
        later('lb', loadbalancer.loadbalancer_id)

    def loadbalancer_delete(self, loadbalancer, cascade=False):
        super().loadbalancer_delete(loadbalancer, cascade)
        later('lb', loadbalancer.loadbalancer_id)

    def loadbalancer_failover(self, loadbalancer_id):
        super().loadbalancer_failover(loadbalancer_id)
        later('lb', loadbalancer_id)

    def loadbalancer_update(self, old_loadbalancer, new_loadbalancer):
        super().loadbalancer_update(old_loadbalancer, new_loadbalancer)
        later('lb', new_loadbalancer.loadbalancer_id)

    def listener_create(self, listener):
        super().listener_create(listener)
        later('lb', listener.loadbalancer_id)

    def listener_delete(self, listener):
        super().listener_delete(listener)
        later('lb', listener.loadbalancer_id)

    def listener_update(self, old_listener, new_listener):
        super().listener_update(old_listener, new_listener)
        later('listener', new_listener.listener_id)

    def pool_create(self, pool):
        super().pool_create(pool)
        later('lb', pool.loadbalancer_id)

    def pool_delete(self, pool):
        super().pool_delete(pool)
        later('lb', pool.loadbalancer_id)

    def pool_update(self, old_pool, new_pool):
        super().pool_update(old_pool, new_pool)
        later('pool', new_pool.pool_id)

    def member_create(self, member):
        super().member_create(member)
        later('pool', member.pool_id)

    def member_delete(self, member):
        super().member_delete(member)
        later('pool', member.pool_id)

    def member_update(self, old_member, new_member):
        super().member_update(old_member, new_member)
        later('pool', new_member.pool_id)

    def member_batch_update(self, pool_id, members):
        super().member_batch_update(pool_id, members)
        later('pool', pool_id)

    def health_monitor_create(self, healthmonitor):
        super().health_monitor_create(healthmonitor)
        later('pool', healthmonitor.pool_id)

    def health_monitor_delete(self, healthmonitor):
        super().health_monitor_delete(healthmonitor)
        later('pool', healthmonitor.pool_id)

    def health_monitor_update(self, old_healthmonitor, new_healthmonitor):
        super().health_monitor_update(old_healthmonitor, new_healthmonitor)
        later('pool', new_healthmonitor.pool_id)

    def l7policy_create(self, l7policy):
        super().l7policy_create(l7policy)
        later('listener', l7policy.listener_id)

    def l7policy_delete(self, l7policy):
        super().l7policy_delete(l7policy)
        later('listener', l7policy.listener_id)

    def l7policy_update(self, old_l7policy, new_l7policy):
        super().l7policy_update(old_l7policy, new_l7policy)
        later('l7policy', new_l7policy.l7policy_id)

    def l7rule_create(self, l7rule):
        super().l7rule_create(l7rule)
        later('l7policy', l7rule.l7policy_id)

    def l7rule_delete(self, l7rule):
        super().l7rule_delete(l7rule)
        later('l7policy', l7rule.l7policy_id)

    def l7rule_update(self, old_l7rule, new_l7rule):
        super().l7rule_update(old_l7rule, new_l7rule)
        later('l7policy', new_l7rule.l7policy_id)
