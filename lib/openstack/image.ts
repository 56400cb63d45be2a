/** Glance v2 calls. */
import { OpenStackError } from '../errors.js';
import type { Image, ImageApi, ServiceCaller } from './types.js';

const UUID = /^[0-9a-f]{8}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{12}$/i;

export function createImageApi(c: ServiceCaller): ImageApi {
  return {
    async findImage(nameOrId: string): Promise<Image | null> {
      if (UUID.test(nameOrId)) {
        const byId = await c.call<Image>('image', 'GET', `/images/${encodeURIComponent(nameOrId)}`, { notFoundNull: true });
        if (byId) return byId;
      }
      const all = await c.list<Image>('image', '/images', 'images', { name: nameOrId });
      const exact = all.filter((i) => i.name === nameOrId);
      if (exact.length <= 1) return exact[0] ?? null;
      // several images share the name (a common leftover of image rotation): an active one, if it is the only one
      const active = exact.filter((i) => i.status === 'active');
      if (active.length === 1) return active[0]!;
      throw new OpenStackError(
        `${exact.length} images are named '${nameOrId}' (${exact.map((i) => `${i.id} ${i.status}`).join(', ')})`,
        { service: 'image', code: 'E_OPENSTACK_AMBIGUOUS' },
        { hint: 'use the image id instead of its name' },
      );
    },
  };
}
