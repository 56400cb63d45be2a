"""ML2 mechanism driver that binds every port without any L2 agent.

Neutron's in-tree drivers (openvswitch, linuxbridge, ...) bind a port only when an alive agent runs on
the port's host. kadd's e2e cloud has no agents (no data path at all), so without this driver every
port ends up binding:vif_type=binding_failed and nova puts the server in ERROR
("Exceeded maximum number of retries"). This driver binds normal/baremetal ports to the first segment
with vif_type "ovs" and status ACTIVE, which is all nova's fake virt driver needs.

ML2 loads mechanism drivers only by stevedore entry-point name: see ../kadd_e2e_drivers-0.1.dist-info.
"""
from neutron_lib.api.definitions import portbindings
from neutron_lib import constants
from neutron_lib.plugins.ml2 import api
from oslo_log import log as logging

LOG = logging.getLogger(__name__)


class AgentlessMechanismDriver(api.MechanismDriver):

    def initialize(self):
        LOG.info("kadd e2e agentless mechanism driver loaded")

    @property
    def connectivity(self):
        return portbindings.CONNECTIVITY_L2

    def bind_port(self, context):
        port = context.current
        if port.get(portbindings.VNIC_TYPE, portbindings.VNIC_NORMAL) not in (
                portbindings.VNIC_NORMAL, portbindings.VNIC_BAREMETAL):
            return
        for segment in context.segments_to_bind:
            context.set_binding(
                segment[api.ID], portbindings.VIF_TYPE_OVS,
                {portbindings.CAP_PORT_FILTER: True,
                 portbindings.OVS_HYBRID_PLUG: False},
                status=constants.PORT_STATUS_ACTIVE)
            LOG.debug("bound port %s on host %s", port['id'], context.host)
            return
