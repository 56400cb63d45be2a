/** Glance v2: images list (name/status/visibility filters, limit/marker) and show. */
import type { Store, Image } from './store.js';
import { type Ctx, type Route, route, send, isoZ } from './util.js';

export class Glance {
  constructor(private readonly store: Store) {}

  routes(): Route[] {
    return [
      route('GET', '', (ctx) => send(ctx.res, 300, { versions: [{ id: 'v2.15', status: 'CURRENT', links: [{ rel: 'self', href: `${ctx.base}/v2/` }] }] })),
      route('GET', '/versions', (ctx) => send(ctx.res, 200, { versions: [{ id: 'v2.15', status: 'CURRENT', links: [{ rel: 'self', href: `${ctx.base}/v2/` }] }] })),
      route('GET', '/v2/images', (ctx) => this.list(ctx)),
      route('GET', '/v2/images/:id', (ctx, [id]) => {
        const img = this.store.images.get(id!);
        if (!img || !this.visible(ctx, img)) return notFound(ctx, id!);
        send(ctx.res, 200, this.body(img));
      }),
    ];
  }

  private visible(ctx: Ctx, i: Image): boolean {
    return i.visibility === 'public' || i.visibility === 'community' || i.owner === ctx.token!.projectId;
  }

  body(i: Image): Record<string, unknown> {
    return {
      status: i.status, name: i.name, tags: i.tags, container_format: i.containerFormat, created_at: isoZ(i.created), disk_format: i.diskFormat, updated_at: isoZ(i.updated),
      visibility: i.visibility, self: `/v2/images/${i.id}`, min_disk: i.minDisk, protected: false, id: i.id, file: `/v2/images/${i.id}/file`, checksum: i.checksum,
      os_hash_algo: 'sha512', os_hash_value: i.checksum.repeat(4), owner: i.owner, size: i.size, min_ram: i.minRam, schema: '/v2/schemas/image', virtual_size: null,
      os_hidden: false, stores: 'file', ...i.properties,
    };
  }

  private list(ctx: Ctx): void {
    const q = ctx.query;
    const name = q.get('name');
    const status = q.get('status');
    const vis = q.get('visibility');
    const limit = q.get('limit') !== null ? Number(q.get('limit')) : 25;
    if (!Number.isInteger(limit) || limit < 0) return send(ctx.res, 400, '400 Bad Request\n\nlimit param must be an integer\n\n   ');
    let rows = [...this.store.images.values()].reverse().filter((i) => this.visible(ctx, i) && (name === null || i.name === name || (name.startsWith('in:') && name.slice(3).split(',').includes(i.name))) && (status === null || i.status === status) && (vis === null || vis === 'all' || i.visibility === vis));
    const marker = q.get('marker');
    if (marker) {
      const idx = rows.findIndex((i) => i.id === marker);
      if (idx < 0) return send(ctx.res, 400, `400 Bad Request\n\nmarker ${marker} could not be found.\n\n   `);
      rows = rows.slice(idx + 1);
    }
    const page = rows.slice(0, limit);
    const out: Record<string, unknown> = { images: page.map((i) => this.body(i)), schema: '/v2/schemas/images', first: `/v2/images${q.toString() ? '?' + q.toString() : ''}` };
    if (rows.length > limit && page.length) {
      const next = new URLSearchParams(q);
      next.set('marker', page[page.length - 1]!.id);
      out.next = `/v2/images?${next}`;
    }
    send(ctx.res, 200, out);
  }
}

function notFound(ctx: Ctx, id: string): void {
  send(ctx.res, 404, `404 Not Found\n\nNo image found with ID ${id}\n\n   `);
}
