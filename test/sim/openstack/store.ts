/** In-memory state of the simulated cloud, plus the operations several services share. */
import type { SimCoreImpl } from '../core.js';
import type { SimRng } from '../contract.js';
import { intToIp, ipToInt, parseCidr } from './ip.js';

export interface Domain { id: string; name: string }
export interface Project { id: string; name: string; domainId: string }
export interface User { id: string; name: string; domainId: string; password: string; defaultProjectId: string; roles: string[] }
export interface AppCred { id: string; name: string; secret: string; userId: string; projectId: string; description: string | null; expiresAt: number | null; unrestricted: boolean; roles: string[] }
export interface Token { id: string; userId: string; projectId: string; methods: string[]; issuedAt: number; expiresAt: number; appCredId?: string; auditId: string }
export interface Flavor { id: string; name: string; vcpus: number; ram: number; disk: number; ephemeral: number; swap: number; isPublic: boolean; extraSpecs: Record<string, string>; description: string | null }
export interface Image { id: string; name: string; status: string; minDisk: number; minRam: number; size: number; visibility: string; diskFormat: string; containerFormat: string; owner: string; created: number; updated: number; checksum: string; tags: string[]; properties: Record<string, string> }
export interface Keypair { name: string; publicKey: string; fingerprint: string; type: string; userId: string; created: number; id: number }
export interface Network { id: string; name: string; projectId: string; external: boolean; shared: boolean; status: string; adminStateUp: boolean; subnets: string[]; mtu: number; tags: string[]; created: number; updated: number; revision: number; description: string }
export interface Subnet {
  id: string; name: string; networkId: string; projectId: string; cidr: string; gatewayIp: string | null; ipVersion: number;
  pools: { start: string; end: string }[]; enableDhcp: boolean; dnsNameservers: string[]; created: number; updated: number; tags: string[]; revision: number; description: string;
  /** allocation: first and last usable address (ints), next candidate, used set */
  lo: number; hi: number; cursor: number; used: Set<number>;
}
export interface Port {
  id: string; name: string; networkId: string; projectId: string; mac: string; fixedIps: { subnet_id: string; ip_address: string }[];
  deviceId: string; deviceOwner: string; status: string; securityGroups: string[]; tags: string[]; created: number; updated: number;
  adminStateUp: boolean; revision: number; hostId: string; description: string; portSecurity: boolean;
}
export interface Router { id: string; name: string; projectId: string; status: string; adminStateUp: boolean; gateway: { network_id: string; enable_snat: boolean; external_fixed_ips: { subnet_id: string; ip_address: string }[] } | null; interfaces: string[]; created: number; updated: number; revision: number; tags: string[]; description: string }
export interface SgRule { id: string; security_group_id: string; direction: string; ethertype: string; protocol: string | null; port_range_min: number | null; port_range_max: number | null; remote_ip_prefix: string | null; remote_group_id: string | null; description: string; project_id: string; tenant_id: string; created_at: string; updated_at: string; revision_number: number; remote_address_group_id: string | null; normalized_cidr: string | null; standard_attr_id: number; tags: string[] }
export interface SecGroup { id: string; name: string; description: string; projectId: string; rules: SgRule[]; tags: string[]; created: number; updated: number; revision: number; stateful: boolean }
/**
 * A Cinder v3 attachment (volume_attachment row). Nova's boot-from-volume reserves one at the API
 * (attach_status `reserved`: no attach_mode, no attach time, no connection_info) and completes it when the
 * guest is spawned (`attached`, mode rw). Only `attached` ones show in a volume's `attachments` list.
 */
export interface VolumeAttachment {
  serverId: string; attachmentId: string; device: string;
  status: 'reserved' | 'attached';
  attachMode: 'rw' | null;
  /** sim ms when it became attached; null while reserved */
  attachedAt: number | null;
  detachedAt: number | null;
  created: number;
}
export interface Volume {
  id: string; name: string | null; description: string | null; size: number; status: string; az: string; volumeType: string; bootable: boolean; imageId?: string;
  metadata: Record<string, string>; attachments: VolumeAttachment[]; created: number; updated: number | null; projectId: string; userId: string;
}
export interface VolumeType { id: string; name: string; description: string | null; isPublic: boolean; extraSpecs: Record<string, string> }
export interface ServerVolume { id: string; deleteOnTermination: boolean }
export interface Server {
  id: string; name: string; status: string; vmState: string; taskState: string | null; powerState: number;
  flavorId: string; imageId: string; keyName: string | null; az: string; metadata: Record<string, string>; tags: string[];
  userData: string | null; created: number; updated: number; launchedAt: number | null; projectId: string; userId: string; hostId: string;
  ports: string[]; createdPorts: string[]; volumes: ServerVolume[]; fault?: { code: number; message: string; created: number };
  securityGroups: string[]; description: string | null; configDrive: string; reservationId: string;
  /** sim ms when the guest started booting (ACTIVE); console text is derived from it */
  bootAt: number | null; bootStageMs: number;
  /** sim ms when the scheduler placed it (null while scheduling: set by the scheduling timer, never derived from the clock) */
  hostAssignedAt: number | null; cancel?: () => void; deleting?: boolean;
  /** the client asked for its AZ (Nova shows it from the start, before a host is picked) */
  azRequested?: boolean;
  /** the scheduler found no host (NoValidHost): no hostId, no addresses, no ports bound */
  noHost?: boolean;
  /** this server's own seeded stream (build, boot and delete latencies) */
  rng?: SimRng;
  /** the compute host the scheduler picked: undefined = the first host of its AZ; '' = none (NoValidHost coming) */
  host?: string;
  /** the server group it was created in (scheduler hint `group`) */
  groupId?: string;
  /** deleted while still BUILD before spawning (scenario fault leaveReservedOnEarlyDelete acts on it) */
  earlyDelete?: boolean;
  /** bumped by every reboot or state change, so a superseded reboot does not complete */
  rebootGen?: number;
}
/** Nova server group (instance group): one policy; rules only for anti-affinity (max_server_per_host) */
export interface ServerGroup { id: string; name: string; policy: string; rules: { max_server_per_host?: number }; members: string[]; projectId: string; userId: string }
export interface DeletedServer { id: string; name: string; projectId: string; userId: string; created: number; updated: number; flavorId: string; imageId: string; tags: string[]; metadata: Record<string, string>; az: string }
export interface LoadBalancer { id: string; name: string; description: string; projectId: string; vipSubnetId: string; vipNetworkId: string; vipPortId: string; vipAddress: string; provisioning: string; operating: string; adminStateUp: boolean; provider: string; created: number; updated: number | null; listeners: string[]; pools: string[]; tags: string[]; flavorId: string | null; az: string | null; /** sim ms until which a fault holds it PENDING_UPDATE / ERROR */ holdUntil?: number; /** which hold() ends last (its timer lifts the hold) */ holdSeq?: number }
export interface Listener { id: string; name: string; description: string; projectId: string; lbId: string; protocol: string; protocolPort: number; defaultPoolId: string | null; provisioning: string; operating: string; adminStateUp: boolean; connectionLimit: number; created: number; updated: number | null; tags: string[] }
export interface Pool { id: string; name: string; description: string; projectId: string; lbId: string; listenerId: string | null; protocol: string; lbAlgorithm: string; provisioning: string; operating: string; adminStateUp: boolean; members: string[]; created: number; updated: number | null; tags: string[] }
export interface Member { id: string; name: string; projectId: string; poolId: string; address: string; protocolPort: number; subnetId: string | null; weight: number; provisioning: string; operating: string; adminStateUp: boolean; monitorAddress: string | null; monitorPort: number | null; backup: boolean; created: number; updated: number | null; tags: string[] }

/** Nova/Cinder/Neutron default quotas (upstream defaults), overridable by scenario.faults.quota */
export interface Quotas { instances: number; cores: number; ram: number; volumes: number; gigabytes: number; ports: number; networks: number; subnets: number; routers: number; security_groups: number; security_group_rules: number; floatingips: number; key_pairs: number; metadata_items: number }

export class Store {
  domains = new Map<string, Domain>();
  projects = new Map<string, Project>();
  users = new Map<string, User>();
  appCreds = new Map<string, AppCred>();
  tokens = new Map<string, Token>();
  flavors = new Map<string, Flavor>();
  images = new Map<string, Image>();
  keypairs = new Map<string, Keypair>();
  networks = new Map<string, Network>();
  subnets = new Map<string, Subnet>();
  ports = new Map<string, Port>();
  routers = new Map<string, Router>();
  secgroups = new Map<string, SecGroup>();
  volumes = new Map<string, Volume>();
  volumeTypes = new Map<string, VolumeType>();
  azs = ['nova', 'az2'];
  servers = new Map<string, Server>();
  serverGroups = new Map<string, ServerGroup>();
  /** servers deleted, kept for changes-since listings */
  deletedServers = new Map<string, DeletedServer & { deletedAt: number }>();
  lbs = new Map<string, LoadBalancer>();
  listeners = new Map<string, Listener>();
  pools = new Map<string, Pool>();
  members = new Map<string, Member>();
  quotas: Quotas;
  /** remaining failure budget per scenario serverError / volumeError entry */
  serverErrorBudget: (number | undefined)[];
  volumeErrorBudget: (number | undefined)[];
  private keypairSeq = 0;
  private macSeq = 0;

  constructor(readonly core: SimCoreImpl) {
    const q = core.scenario.faults?.quota ?? {};
    this.quotas = {
      instances: q.instances ?? 10, cores: q.cores ?? 20, ram: q.ram ?? 51200, volumes: q.volumes ?? 10, gigabytes: q.gigabytes ?? 1000,
      ports: q.ports ?? 500, networks: 100, subnets: 100, routers: 10, security_groups: 10, security_group_rules: 100, floatingips: 50, key_pairs: 100, metadata_items: 128,
    };
    this.serverErrorBudget = (core.scenario.faults?.serverError ?? []).map((e) => e.times);
    this.volumeErrorBudget = (core.scenario.faults?.volumeError ?? []).map((e) => e.times);
  }

  /** refresh quotas after a runtime scenario patch */
  refreshFaults(): void {
    const q = this.core.scenario.faults?.quota ?? {};
    for (const k of ['instances', 'cores', 'ram', 'volumes', 'gigabytes', 'ports'] as const) if (q[k] !== undefined) this.quotas[k] = q[k]!;
    this.serverErrorBudget = (this.core.scenario.faults?.serverError ?? []).map((e) => e.times);
    this.volumeErrorBudget = (this.core.scenario.faults?.volumeError ?? []).map((e) => e.times);
  }

  uuid(): string {
    return this.core.idRng.uuid();
  }
  hexId(): string {
    return this.core.idRng.hex(32);
  }
  now(): number {
    return this.core.now();
  }
  nextKeypairId(): number {
    return ++this.keypairSeq;
  }
  mac(): string {
    const n = ++this.macSeq;
    return `fa:16:3e:${((n >> 16) & 255).toString(16).padStart(2, '0')}:${((n >> 8) & 255).toString(16).padStart(2, '0')}:${(n & 255).toString(16).padStart(2, '0')}`;
  }

  /** compute hosts of an AZ (scenario compute.hostsPerZone, default 2); the first keeps the historical name */
  hostsOf(az: string): string[] {
    const n = this.core.scenario.compute?.hostsPerZone ?? 2;
    return Array.from({ length: n }, (_, i) => (i === 0 ? `sim-compute-${az}` : `sim-compute-${az}-${i}`));
  }
  /** the host a server runs on; undefined when it has none (NoValidHost) */
  hostOf(s: Server): string | undefined {
    if (s.noHost || s.host === '') return undefined;
    return s.host ?? `sim-compute-${s.az}`;
  }

  // ---- compute usage (linear scans are fine: they run once per create, never per listed item)
  computeUsage(projectId: string): { instances: number; cores: number; ram: number } {
    let instances = 0, cores = 0, ram = 0;
    for (const s of this.servers.values()) {
      if (s.projectId !== projectId) continue;
      const f = this.flavors.get(s.flavorId);
      instances++;
      cores += f?.vcpus ?? 0;
      ram += f?.ram ?? 0;
    }
    return { instances, cores, ram };
  }
  volumeUsage(projectId: string): { volumes: number; gigabytes: number } {
    let volumes = 0, gigabytes = 0;
    for (const v of this.volumes.values()) {
      if (v.projectId !== projectId) continue;
      volumes++;
      gigabytes += v.size;
    }
    return { volumes, gigabytes };
  }
  countByProject<T extends { projectId: string }>(m: Map<string, T>, projectId: string): number {
    let n = 0;
    for (const x of m.values()) if (x.projectId === projectId) n++;
    return n;
  }

  // ---- networking
  addSubnet(s: Omit<Subnet, 'lo' | 'hi' | 'cursor' | 'used'>): Subnet {
    const c = parseCidr(s.cidr)!;
    const size = 2 ** (32 - c.prefix);
    const pool = s.pools[0];
    const lo = pool ? ipToInt(pool.start) : c.base + 2;
    const hi = pool ? ipToInt(pool.end) : c.base + size - 2;
    const sub: Subnet = { ...s, lo, hi, cursor: lo, used: new Set() };
    if (s.gatewayIp) sub.used.add(ipToInt(s.gatewayIp));
    this.subnets.set(sub.id, sub);
    this.networks.get(sub.networkId)?.subnets.push(sub.id);
    return sub;
  }

  /** next free address of the subnet, or undefined when exhausted (amortised O(1)) */
  allocateIp(sub: Subnet, wanted?: string): string | undefined | 'in-use' | 'invalid' {
    if (wanted) {
      const n = ipToInt(wanted);
      const c = parseCidr(sub.cidr)!;
      if (n < c.base || n >= c.base + 2 ** (32 - c.prefix)) return 'invalid';
      if (sub.used.has(n)) return 'in-use';
      sub.used.add(n);
      return wanted;
    }
    const span = sub.hi - sub.lo + 1;
    for (let i = 0; i < span; i++) {
      const n = sub.cursor;
      sub.cursor = sub.cursor >= sub.hi ? sub.lo : sub.cursor + 1;
      if (!sub.used.has(n)) {
        sub.used.add(n);
        return intToIp(n);
      }
    }
    return undefined;
  }

  releasePortIps(p: Port): void {
    for (const f of p.fixedIps) this.subnets.get(f.subnet_id)?.used.delete(ipToInt(f.ip_address));
  }

  /** create a port on a network with one address from its first IPv4 subnet (or the given subnet/IP) */
  createPort(opts: { networkId: string; projectId: string; name?: string; deviceId?: string; deviceOwner?: string; securityGroups?: string[]; fixedIps?: { subnet_id?: string; ip_address?: string }[]; tags?: string[]; description?: string; portSecurity?: boolean }):
    | { port: Port }
    | { error: { status: number; type: string; message: string } } {
    const net = this.networks.get(opts.networkId);
    if (!net) return { error: { status: 404, type: 'NetworkNotFound', message: `Network ${opts.networkId} could not be found.` } };
    const ips: { subnet_id: string; ip_address: string }[] = [];
    const wanted = opts.fixedIps ?? (net.subnets.length ? [{ subnet_id: net.subnets[0] }] : []);
    for (const w of wanted) {
      let sub: Subnet | undefined;
      if (w.subnet_id) {
        sub = this.subnets.get(w.subnet_id);
        if (!sub) return { error: { status: 404, type: 'SubnetNotFound', message: `Subnet ${w.subnet_id} could not be found.` } };
      } else if (w.ip_address) {
        sub = net.subnets.map((id) => this.subnets.get(id)!).find((s) => {
          const c = parseCidr(s.cidr)!;
          const n = ipToInt(w.ip_address!);
          return n >= c.base && n < c.base + 2 ** (32 - c.prefix);
        });
        if (!sub) return { error: { status: 400, type: 'InvalidIpForNetwork', message: `IP address ${w.ip_address} is not a valid IP for any of the subnets on the specified network.` } };
      }
      if (!sub) continue;
      if (sub.networkId !== net.id) return { error: { status: 400, type: 'InvalidInput', message: `Invalid input for operation: Failed to create port on network ${net.id}, because fixed_ips included invalid subnet ${sub.id}.` } };
      const ip = this.allocateIp(sub, w.ip_address);
      if (ip === undefined) {
        for (const f of ips) this.subnets.get(f.subnet_id)?.used.delete(ipToInt(f.ip_address));
        return { error: { status: 409, type: 'IpAddressGenerationFailure', message: `No more IP addresses available on network ${net.id}.` } };
      }
      if (ip === 'in-use') return { error: { status: 409, type: 'IpAddressAlreadyAllocated', message: `IP address ${w.ip_address} already allocated in subnet ${sub.id}` } };
      if (ip === 'invalid') return { error: { status: 400, type: 'InvalidIpForSubnet', message: `IP address ${w.ip_address} is not a valid IP for the specified subnet.` } };
      ips.push({ subnet_id: sub.id, ip_address: ip });
    }
    const now = this.now();
    const port: Port = {
      id: this.uuid(), name: opts.name ?? '', networkId: net.id, projectId: opts.projectId, mac: this.mac(), fixedIps: ips,
      deviceId: opts.deviceId ?? '', deviceOwner: opts.deviceOwner ?? '', status: 'DOWN',
      securityGroups: opts.securityGroups ?? (net.external || opts.deviceOwner?.startsWith('network:') ? [] : [this.defaultSecGroup(opts.projectId).id]),
      tags: opts.tags ?? [], created: now, updated: now, adminStateUp: true, revision: 1, hostId: '', description: opts.description ?? '', portSecurity: opts.portSecurity ?? true,
    };
    this.ports.set(port.id, port);
    return { port };
  }

  deletePort(id: string): void {
    const p = this.ports.get(id);
    if (!p) return;
    this.releasePortIps(p);
    this.ports.delete(id);
  }

  defaultSecGroup(projectId: string): SecGroup {
    for (const sg of this.secgroups.values()) if (sg.projectId === projectId && sg.name === 'default') return sg;
    return this.addSecGroup(projectId, 'default', 'Default security group', true);
  }

  addSecGroup(projectId: string, name: string, description: string, withDefaultIngress: boolean): SecGroup {
    const now = this.now();
    const sg: SecGroup = { id: this.uuid(), name, description, projectId, rules: [], tags: [], created: now, updated: now, revision: 1, stateful: true };
    for (const eth of ['IPv4', 'IPv6']) {
      sg.rules.push(this.makeRule(sg, { direction: 'egress', ethertype: eth }));
      if (withDefaultIngress) sg.rules.push(this.makeRule(sg, { direction: 'ingress', ethertype: eth, remote_group_id: sg.id }));
    }
    this.secgroups.set(sg.id, sg);
    return sg;
  }

  /** Neutron's standard_attributes row id: one sequence for every resource that has it */
  private standardAttrSeq = 0;
  makeRule(sg: SecGroup, r: Partial<SgRule>): SgRule {
    const t = new Date(Math.floor(this.now() / 1000) * 1000).toISOString().replace('.000Z', 'Z');
    return {
      id: this.uuid(), security_group_id: sg.id, direction: r.direction ?? 'ingress', ethertype: r.ethertype ?? 'IPv4', protocol: r.protocol ?? null,
      port_range_min: r.port_range_min ?? null, port_range_max: r.port_range_max ?? null, remote_ip_prefix: r.remote_ip_prefix ?? null,
      remote_group_id: r.remote_group_id ?? null, description: r.description ?? '', project_id: sg.projectId, tenant_id: sg.projectId,
      created_at: t, updated_at: t, revision_number: 0,
      remote_address_group_id: r.remote_address_group_id ?? null, normalized_cidr: normalizeCidr(r.remote_ip_prefix ?? null),
      standard_attr_id: ++this.standardAttrSeq, tags: [],
    };
  }

  /**
   * volume attach bookkeeping shared by Nova and Cinder: 'reserved' is Nova's attachment_create at the API
   * (volume `reserved`), 'in-use' a completed attachment (volume `in-use`)
   */
  attachVolume(v: Volume, serverId: string, device: string, status: 'reserved' | 'in-use'): void {
    const now = this.now();
    let a = v.attachments.find((x) => x.serverId === serverId);
    if (!a) {
      a = { serverId, attachmentId: this.uuid(), device, status: 'reserved', attachMode: null, attachedAt: null, detachedAt: null, created: now };
      v.attachments.push(a);
    }
    if (status === 'in-use') this.completeAttachment(a, now);
    v.status = status;
    v.updated = now;
  }
  /** Nova's attachment_update + attachment_complete once the guest is spawned */
  completeAttachment(a: VolumeAttachment, now = this.now()): void {
    if (a.status === 'attached') return;
    a.status = 'attached';
    a.attachMode = 'rw';
    a.attachedAt = now;
  }
  detachVolume(v: Volume, serverId: string): void {
    v.attachments = v.attachments.filter((a) => a.serverId !== serverId);
    this.afterDetach(v);
  }
  /** Cinder's finish_detach: the volume goes back to available when its last attachment is gone */
  afterDetach(v: Volume): void {
    if (v.attachments.length === 0 && (v.status === 'in-use' || v.status === 'reserved' || v.status === 'attaching' || v.status === 'detaching')) v.status = 'available';
    else if (v.attachments.length && v.status === 'reserved' && v.attachments.some((a) => a.status === 'attached')) v.status = 'in-use';
    v.updated = this.now();
  }

  /** scenario name-regex fault matching with a finite budget */
  takeFault<T extends { name: string; times?: number }>(list: T[] | undefined, budget: (number | undefined)[], name: string): T | undefined {
    if (!list) return undefined;
    for (let i = 0; i < list.length; i++) {
      const e = list[i]!;
      let re: RegExp;
      try { re = new RegExp(e.name); } catch { continue; }
      if (!re.test(name)) continue;
      const left = budget[i];
      if (left !== undefined) {
        if (left <= 0) continue;
        budget[i] = left - 1;
      }
      return e;
    }
    return undefined;
  }
}

/** Neutron's normalized_cidr: the prefix with its host bits cleared ("10.0.0.5/24" -> "10.0.0.0/24"); null without one */
export function normalizeCidr(prefix: string | null): string | null {
  if (!prefix) return null;
  const m = /^(\d+)\.(\d+)\.(\d+)\.(\d+)(?:\/(\d+))?$/.exec(prefix);
  if (!m) return prefix;
  const len = m[5] === undefined ? 32 : Number(m[5]);
  const ip = ((Number(m[1]) << 24) | (Number(m[2]) << 16) | (Number(m[3]) << 8) | Number(m[4])) >>> 0;
  const mask = len === 0 ? 0 : (0xffffffff << (32 - len)) >>> 0;
  const n = (ip & mask) >>> 0;
  return `${n >>> 24}.${(n >>> 16) & 255}.${(n >>> 8) & 255}.${n & 255}/${len}`;
}
