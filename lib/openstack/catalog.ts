/**
 * Service catalog resolution: service type (with aliases), region and interface, then the endpoint
 * URL normalised to the API version kadd speaks (Nova /v2.1, Neutron /v2.0, Cinder /v3/{project}, Glance /v2,
 * Octavia /v2).
 */
import { ConfigError, OpenStackError } from '../errors.js';

export interface CatalogEndpoint {
  id?: string;
  interface: string;
  region?: string | null;
  region_id?: string | null;
  url: string;
}
export interface CatalogEntry {
  id?: string;
  type: string;
  name?: string;
  endpoints: CatalogEndpoint[];
}

/** The services kadd uses, by the name the client code uses. */
export type ServiceName = 'compute' | 'network' | 'block-storage' | 'image' | 'load-balancer';

/** Catalog types tried in order (service-types-authority names first, then the historical aliases). */
export const SERVICE_ALIASES: Record<ServiceName, string[]> = {
  compute: ['compute'],
  network: ['network'],
  'block-storage': ['block-storage', 'volumev3', 'volume'],
  image: ['image'],
  'load-balancer': ['load-balancer'],
};

export type Interface = 'public' | 'internal' | 'admin';

function regionOf(e: CatalogEndpoint): string | undefined {
  return e.region_id ?? e.region ?? undefined;
}

function normInterface(i: string): string {
  return i.toLowerCase().replace(/url$/, '');
}

/** Distinct regions present in the catalog, sorted. */
export function catalogRegions(catalog: CatalogEntry[]): string[] {
  const set = new Set<string>();
  for (const s of catalog) for (const e of s.endpoints ?? []) {
    const r = regionOf(e);
    if (r) set.add(r);
  }
  return [...set].sort();
}

/**
 * Resolve the base URL for a service.
 * Throws a ConfigError (exit 2) naming what is present when the region or interface has no endpoint.
 */
export function resolveEndpoint(
  catalog: CatalogEntry[],
  service: ServiceName,
  opts: { region?: string; interface: Interface; projectId: string },
): string {
  const types = SERVICE_ALIASES[service];
  const entries = types.flatMap((t) => catalog.filter((c) => c.type === t));
  if (entries.length === 0) {
    const present = [...new Set(catalog.map((c) => c.type))].sort().join(', ') || 'none';
    throw new OpenStackError(
      `the service catalog has no ${service} service (looked for type ${types.join(' | ')}; types present: ${present})`,
      { service, code: 'E_OPENSTACK_NO_SERVICE' },
      { hint: `ask the cloud operator whether ${service} is deployed in this cloud` },
    );
  }
  const wantIf = opts.interface;
  const allEndpoints = entries.flatMap((e) => e.endpoints ?? []);
  const inRegion = opts.region ? allEndpoints.filter((e) => regionOf(e) === opts.region) : allEndpoints;
  if (opts.region && inRegion.length === 0) {
    const regions = [...new Set(allEndpoints.map(regionOf).filter((r): r is string => !!r))].sort();
    throw new ConfigError(
      `region '${opts.region}' has no ${service} endpoint; regions in the catalog: ${regions.join(', ') || 'none'}`,
      { code: 'E_OPENSTACK_REGION', hint: 'set --os-region-name (or region_name in clouds.yaml) to one of them' },
    );
  }
  // Walk the aliases in order so block-storage wins over volumev3, which wins over volume.
  for (const entry of entries) {
    const candidates = (entry.endpoints ?? []).filter(
      (e) => normInterface(e.interface) === wantIf && (!opts.region || regionOf(e) === opts.region),
    );
    // legacy Cinder v1/v2 endpoints registered as type "volume" are no use to a v3 client
    const usable = service === 'block-storage' ? candidates.filter((e) => !/\/v[12](\/|$)/.test(pathOf(e.url))) : candidates;
    if (usable.length === 0) continue;
    const regions = [...new Set(usable.map(regionOf).filter((r): r is string => !!r))];
    if (!opts.region && regions.length > 1) {
      throw new ConfigError(
        `${service} is offered in several regions (${regions.sort().join(', ')}) and no region was chosen`,
        { code: 'E_OPENSTACK_REGION', hint: 'set --os-region-name (or region_name in clouds.yaml)' },
      );
    }
    return normaliseUrl(service, substitute(usable[0]!.url, opts.projectId), opts.projectId);
  }
  const interfaces = [...new Set(inRegion.map((e) => normInterface(e.interface)))].sort();
  throw new ConfigError(
    `no ${service} endpoint with interface '${wantIf}'${opts.region ? ` in region '${opts.region}'` : ''}; interfaces present: ${interfaces.join(', ') || 'none'}`,
    { code: 'E_OPENSTACK_INTERFACE', hint: 'set --os-interface (or interface in clouds.yaml) to one of them' },
  );
}

function pathOf(u: string): string {
  try {
    return new URL(u).pathname;
  } catch {
    return u;
  }
}

/** Keystone normally substitutes these; some catalogs still carry them. */
function substitute(url: string, projectId: string): string {
  return url.replace(/%\((?:tenant_id|project_id)\)s|\$\((?:tenant_id|project_id)\)s/g, projectId);
}

/** Append the API version (and Cinder's project id) when the catalog URL lacks it. Never a trailing slash. */
export function normaliseUrl(service: ServiceName, raw: string, projectId: string): string {
  const u = new URL(raw);
  let path = u.pathname.replace(/\/+$/, '');
  switch (service) {
    case 'compute':
      // http://x:8774/v2.1 | http://x:8774/v2.1/<project> | http://x:8774/v2/<project> | http://x/compute
      if (!/\/v2(\.1)?(\/|$)/.test(path)) path += '/v2.1';
      break;
    case 'network':
      if (!/\/v2\.0$/.test(path)) path += '/v2.0';
      break;
    case 'block-storage':
      if (!/\/v3(\/|$)/.test(path)) path += '/v3';
      if (/\/v3$/.test(path)) path += `/${projectId}`;
      break;
    case 'image':
      if (!/\/v2(\.\d+)?$/.test(path)) path += '/v2';
      break;
    case 'load-balancer':
      if (!/\/v2(\.0)?$/.test(path)) path += '/v2';
      break;
  }
  u.pathname = path;
  u.search = '';
  u.hash = '';
  return u.toString().replace(/\/+$/, '');
}
