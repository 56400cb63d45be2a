"""Cinder volume driver for kadd's e2e cloud.

Extends cinder.tests.fake_driver.FakeLoggingVolumeDriver (Debian ships cinder's tests), which logs
instead of running LVM commands, so that image <-> volume copies are no-ops as well: the parent would
run qemu-img/dd onto a /dev/cinder-volumes path that does not exist. Volumes hold no data.
"""
from oslo_log import log as logging

from cinder.tests import fake_driver

LOG = logging.getLogger(__name__)


class NoCopyFakeVolumeDriver(fake_driver.FakeLoggingVolumeDriver):
    VERSION = '1.0.0'

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        name = None
        if self.configuration:
            name = self.configuration.safe_get('volume_backend_name')
        self.backend_name = name or 'fake'

    def copy_image_to_volume(self, context, volume, image_service, image_id,
                             disk_format=None):
        LOG.info("kadd-e2e: pretend-copied image %s to volume %s", image_id, volume.id)

    def copy_image_to_encrypted_volume(self, context, volume, image_service, image_id):
        self.copy_image_to_volume(context, volume, image_service, image_id)

    def copy_volume_to_image(self, context, volume, image_service, image_meta):
        LOG.info("kadd-e2e: copy_volume_to_image is a no-op here")

    def extend_volume(self, volume, new_size):
        LOG.info("kadd-e2e: extend %s to %s GiB", volume.id, new_size)

    def get_volume_stats(self, refresh=False):
        if refresh or not self._stats:
            self._update_volume_stats()
        return self._stats
