/**
 * kadd remove (workers) on the simulator: the whole command in-process, against the sim's Nova/Neutron/
 * Cinder and Kubernetes API (pods, ReplicaSets, DaemonSets, PDBs computed like the disruption controller,
 * the Eviction subresource, VolumeAttachments). Each failure case of issue 10 is one test.
 */
import { strict as assert } from 'node:assert';
import { readFileSync } from 'node:fs';
import { startKaddSim, readUpdated, type KaddSim } from '../helpers/kadd-sim.js';
import { journalPath } from '../../lib/journal/journal.js';
import type { Scenario } from '../sim/contract.js';
import type { WorkloadSpec } from '../sim/kube/workloads.js';

const FAST = ['--yes', '--poll-interval', '25', '--evict-retry', '200'];

function lastIndex(xs: any[], f: (x: any) => boolean): number {
  for (let i = xs.length - 1; i >= 0; i--) if (f(xs[i])) return i;
  return -1;
}

function journal(h: KaddSim): any[] {
  return readFileSync(journalPath(h.cfgPath), 'utf8').trim().split('\n').map((l) => JSON.parse(l));
}

function kubeSim(h: KaddSim): any {
  return h.sim.kube as any;
}

async function withSim(o: { nodes?: number; masters?: number; workloads?: WorkloadSpec[]; scenario?: Scenario }, fn: (h: KaddSim) => Promise<void>): Promise<void> {
  const h = await startKaddSim({
    masters: o.masters ?? 1, nodes: o.nodes ?? 3,
    scenario: {
      ...(o.scenario ?? {}),
      kube: { podStartup: { uniform: [20, 40] }, podTermination: { uniform: [20, 40] }, volumeAttach: 30, volumeDetach: 30, ...(o.scenario?.kube ?? {}), workloads: o.workloads ?? [] },
    },
  });
  try {
    await fn(h);
  } finally {
    await h.stop();
  }
}

/** real (not dry-run) evictions and every other mutating request kadd sent (but its own Lease kube-system/kadd-lock, taken and released: none may be left) */
function realMutations(h: KaddSim): Record<string, number> {
  const out = { ...h.mutations({ exceptClusterLock: true }) };
  const evictions = kubeSim(h).requests({ method: 'POST', path: /\/eviction$/ }) as { query: string; body: any }[];
  const dry = evictions.filter((r) => /dryRun=All/.test(r.query) || r.body?.deleteOptions?.dryRun?.includes('All')).length;
  const k = 'kube POST /api/v1/namespaces/{namespace}/pods/{name}/eviction';
  if (out[k] !== undefined) {
    out[k] -= dry;
    if (out[k] === 0) delete out[k];
  }
  return out;
}

function podsOn(h: KaddSim, node: string): string[] {
  return kubeSim(h).pods().filter((p: any) => p.spec.nodeName === node && !p.metadata.deletionTimestamp).map((p: any) => `${p.metadata.namespace}/${p.metadata.name}`);
}

describe('kadd remove: workers on the simulator', function () {
  this.timeout(60_000);

  it('removes the two newest workers: drained (PDB honoured, DaemonSet skipped), server then volume/port then Node, config n-nodes -2', async () => {
    await withSim({
      nodes: 4,
      workloads: [
        { name: 'shop', replicas: 4, pdb: { minAvailable: 3 } },
        { name: 'agent', kind: 'DaemonSet' },
      ],
    }, async (h) => {
      const dry = await h.kadd(['remove', '--dry-run', '--role', 'node', '--amount', '2', h.cfgPath]);
      assert.equal(dry.code, 0, dry.stderr);
      assert.match(dry.stdout, /demo-node-4: newest \(index 4\)/);
      assert.match(dry.stdout, /demo-node-3: newest \(index 3\)/);
      assert.match(dry.stdout, /skip\s+\S*agent\S* \[daemonset\]/);
      assert.match(dry.stdout, /pdb default\/shop dry-run: allowed/);
      assert.match(dry.stdout, /capacity: /);
      assert.deepEqual(h.serverNames(), ['demo-node-1', 'demo-node-2', 'demo-node-3', 'demo-node-4'], 'a dry run changes nothing');
      const r = await h.kadd(['remove', ...FAST, '--role', 'node', '--amount', '2', h.cfgPath]);
      assert.equal(r.code, 0, r.stderr + r.stdout);
      assert.deepEqual(h.serverNames(), ['demo-node-1', 'demo-node-2']);
      assert.deepEqual([...h.nodes().keys()].sort(), ['demo-master-1', 'demo-node-1', 'demo-node-2']);
      // the Deployment's pods run elsewhere and the PDB was honoured (never fewer than 3 ready)
      const web = kubeSim(h).pods('default').filter((p: any) => p.metadata.labels?.app === 'shop' && !p.metadata.deletionTimestamp);
      assert.equal(web.length, 4);
      assert.ok(web.every((p: any) => ['demo-node-1', 'demo-node-2'].includes(p.spec.nodeName)), JSON.stringify(web.map((p: any) => p.spec.nodeName)));
      assert.match(readUpdated(h), /n-nodes: 2\b/);
      // order per node: the server's teardown is done before the Node's intent
      const recs = journal(h);
      for (const n of ['demo-node-3', 'demo-node-4']) {
        const i = recs.findIndex((x) => x.t === 'step' && x.step === 'teardown' && x.node === n && x.state === 'done');
        const k = lastIndex(recs, (x) => x.t === 'intent' && x.kind === 'node' && x.name === n);
        const c = recs.findIndex((x) => x.t === 'step' && x.step === 'cordon' && x.node === n && x.state === 'start');
        assert.ok(c >= 0 && c < i && i < k, `cordon < teardown < Node for ${n}`);
      }
      assert.equal(recs.at(-1).t, 'end');
      assert.equal(recs.at(-1).status, 'ok');
    });
  });

  it('an unsatisfiable PDB (one replica, maxUnavailable 0) is a blocker: exit 2, nothing changed', async () => {
    await withSim({ workloads: [{ name: 'db', replicas: 1, nodes: ['demo-node-3'], pdb: { maxUnavailable: 0 } }] }, async (h) => {
      const before = realMutations(h);
      const r = await h.kadd(['remove', ...FAST, h.cfgPath, 'demo-node-3']);
      assert.equal(r.code, 2, r.stderr);
      assert.match(r.stderr, /maxUnavailable is 0: it never allows a voluntary disruption/);
      assert.deepEqual(realMutations(h), before, 'no mutating request (dry-run evictions only)');
      assert.ok(h.serverNames().includes('demo-node-3'));
      assert.equal(kubeSim(h).node('demo-node-3').spec.unschedulable, undefined, 'not even cordoned');
    });
  });

  it('a crash-looping pod under a PDB: the drain times out, the node stays cordoned, the server is NOT deleted (exit 1, blockers listed)', async () => {
    await withSim({
      workloads: [{ name: 'api', replicas: 2, nodes: ['demo-node-3', 'demo-node-1'], pdb: { minAvailable: 1 } }],
    }, async (h) => {
      // the replica on node-1 crash-loops: only the one on node-3 is healthy, the budget allows no disruption
      const other = kubeSim(h).pods('default').find((p: any) => p.metadata.labels?.app === 'api' && p.spec.nodeName === 'demo-node-1');
      kubeSim(h).setCrashLoop('default', other.metadata.name, true);
      await new Promise((r) => setTimeout(r, 300));
      const dry = await h.kadd(['remove', '--dry-run', h.cfgPath, 'demo-node-3']);
      assert.equal(dry.code, 0, dry.stdout + dry.stderr);
      assert.match(dry.stdout, /dry-run: 429 now/);
      const r = await h.kadd(['remove', ...FAST, '--drain-timeout', '2s', h.cfgPath, 'demo-node-3']);
      assert.equal(r.code, 1, r.stderr);
      assert.match(r.stderr, /drain timed out after 2s/);
      assert.match(r.stderr, /PDB default\/api/);
      assert.ok(h.serverNames().includes('demo-node-3'), 'server kept');
      assert.equal(kubeSim(h).node('demo-node-3').spec.unschedulable, true, 'stays cordoned');
      assert.equal(podsOn(h, 'demo-node-3').filter((p) => p.includes('api')).length, 1);
    });
  });

  it('--on-drain-timeout force removes the node after the drain deadline', async () => {
    await withSim({
      workloads: [{ name: 'api', replicas: 2, nodes: ['demo-node-3', 'demo-node-1'], pdb: { minAvailable: 1 } }],
    }, async (h) => {
      const other = kubeSim(h).pods('default').find((p: any) => p.metadata.labels?.app === 'api' && p.spec.nodeName === 'demo-node-1');
      kubeSim(h).setCrashLoop('default', other.metadata.name, true);
      await new Promise((r) => setTimeout(r, 300));
      const r = await h.kadd(['remove', ...FAST, '--drain-timeout', '1s', '--on-drain-timeout', 'force', h.cfgPath, 'demo-node-3']);
      assert.equal(r.code, 0, r.stderr);
      assert.match(r.stderr, /--on-drain-timeout force/);
      assert.ok(!h.serverNames().includes('demo-node-3'));
    });
  });

  it('two PDBs selecting one pod: a blocker naming the 500; --disable-eviction deletes the pod instead, loudly', async () => {
    await withSim({
      workloads: [
        { name: 'twin', replicas: 2, labels: { tier: 'x' }, pdb: { name: 'twin-a', minAvailable: 1 } },
      ],
    }, async (h) => {
      // a second PDB on the same pods
      const k = kubeSim(h);
      await fetch(`${h.sim.baseUrl}/apis/policy/v1/namespaces/default/poddisruptionbudgets`, {
        method: 'POST', headers: { 'content-type': 'application/json', authorization: 'Bearer sim-admin-token' },
        body: JSON.stringify({ apiVersion: 'policy/v1', kind: 'PodDisruptionBudget', metadata: { name: 'twin-b' }, spec: { minAvailable: 1, selector: { matchLabels: { tier: 'x' } } } }),
      });
      const node = k.pods('default').find((p: any) => p.metadata.labels?.tier === 'x').spec.nodeName;
      const r = await h.kadd(['remove', ...FAST, h.cfgPath, node]);
      assert.equal(r.code, 2, r.stderr);
      assert.match(r.stderr, /more than one PodDisruptionBudget|selected by 2 PodDisruptionBudgets/);
      const f = await h.kadd(['remove', ...FAST, '--disable-eviction', h.cfgPath, node]);
      assert.equal(f.code, 0, f.stderr);
      assert.match(f.stderr, /--disable-eviction: \d+ pod\(s\) are DELETED, bypassing every PodDisruptionBudget/);
      assert.ok(!h.serverNames().includes(node));
    });
  });

  it('emptyDir and bare pods need --delete-emptydir-data and --force (exit 2 without them)', async () => {
    await withSim({
      workloads: [
        { name: 'cache', replicas: 1, nodes: ['demo-node-3'], emptyDir: true },
        { name: 'lonely', kind: 'Bare', nodes: ['demo-node-3'] },
      ],
    }, async (h) => {
      const r = await h.kadd(['remove', ...FAST, h.cfgPath, 'demo-node-3']);
      assert.equal(r.code, 2);
      assert.match(r.stderr, /--delete-emptydir-data lets kadd evict it/);
      assert.match(r.stderr, /--force lets kadd evict it/);
      const ok = await h.kadd(['remove', ...FAST, '--delete-emptydir-data', '--force', h.cfgPath, 'demo-node-3']);
      assert.equal(ok.code, 0, ok.stderr);
      assert.ok(!h.serverNames().includes('demo-node-3'));
    });
  });

  it('a PV-backed pod whose volume stays attached: the node stays, the server is kept (exit 1)', async () => {
    await withSim({
      workloads: [{ name: 'pg', replicas: 1, nodes: ['demo-node-3'], pvc: true }],
      scenario: { faults: { volumeStaysAttached: ['.*'] } },
    }, async (h) => {
      const dry = await h.kadd(['remove', '--dry-run', h.cfgPath, 'demo-node-3']);
      assert.match(dry.stderr + dry.stdout, /PersistentVolumeClaim/);
      const r = await h.kadd(['remove', ...FAST, '--volume-detach-timeout', '1s', h.cfgPath, 'demo-node-3']);
      assert.equal(r.code, 1, r.stderr);
      assert.match(r.stderr, /volumes still attached to demo-node-3/);
      assert.ok(h.serverNames().includes('demo-node-3'));
      assert.equal(kubeSim(h).node('demo-node-3').spec.unschedulable, true);
    });
  });

  it('a node that goes unreachable mid-drain: grace 1 s, pods stuck terminating are ignored, the removal completes', async () => {
    await withSim({
      workloads: [{ name: 'slow', replicas: 1, nodes: ['demo-node-3'], gracePeriodSeconds: 600, terminationMs: 600_000 }],
    }, async (h) => {
      const run = h.kadd(['remove', ...FAST, '--drain-timeout', '30s', h.cfgPath, 'demo-node-3']);
      // wait until the pod was evicted (terminating), then take the node down
      const t0 = Date.now();
      for (;;) {
        const p = kubeSim(h).pods('default').find((x: any) => x.spec.nodeName === 'demo-node-3' && x.metadata.labels?.app === 'slow');
        if (p?.metadata.deletionTimestamp) break;
        if (Date.now() - t0 > 20_000) throw new Error('the pod was never evicted');
        await new Promise((r) => setTimeout(r, 50));
      }
      kubeSim(h).setNodeDown('demo-node-3', true);
      const r = await run;
      assert.equal(r.code, 0, r.stderr);
      assert.match(r.stderr, /became unreachable/);
      assert.ok(Date.now() - t0 < 25_000, 'did not wait for the drain deadline');
      assert.ok(!h.serverNames().includes('demo-node-3'));
    });
  });

  it('a server already deleted out of band: the Node is removed and the config updated', async () => {
    await withSim({}, async (h) => {
      const s = h.servers().find((x) => x.name === 'demo-node-2')!;
      const os = await (await import('../helpers/kadd-sim.js')).startKaddSim; // keep import graph simple
      void os;
      const tok = await fetch(`${h.sim.baseUrl}/identity/v3/auth/tokens`, {
        method: 'POST', headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ auth: { identity: { methods: ['password'], password: { user: { name: 'kadd', domain: { name: 'Default' }, password: 'kadd-secret' } } }, scope: { project: { name: 'kadd', domain: { name: 'Default' } } } } }),
      });
      const token = tok.headers.get('x-subject-token')!;
      const del = await fetch(`${h.sim.baseUrl}/compute/v2.1/servers/${s.id}`, { method: 'DELETE', headers: { 'x-auth-token': token } });
      assert.equal(del.status, 204);
      for (let i = 0; i < 100 && h.serverNames().includes('demo-node-2'); i++) await new Promise((r) => setTimeout(r, 50));
      const r = await h.kadd(['remove', ...FAST, h.cfgPath, 'demo-node-2']);
      assert.equal(r.code, 0, r.stderr);
      assert.ok(!h.nodes().has('demo-node-2'));
      assert.match(readUpdated(h), /n-nodes: 2\b/);
    });
  });

  it('a server delete that times out: exit 1, the Node is kept (it goes only after the server), --resume finishes', async () => {
    await withSim({ scenario: { latency: { serverDelete: 4000 } } }, async (h) => {
      const r = await h.kadd(['remove', ...FAST, '--server-timeout', '1s', h.cfgPath, 'demo-node-3']);
      assert.equal(r.code, 1, r.stderr);
      assert.match(r.stderr, /timed out|still present/);
      assert.ok(h.nodes().has('demo-node-3'), 'the Node stays while the server may still run');
      const again = await h.kadd(['remove', ...FAST, h.cfgPath, 'demo-node-2']);
      assert.equal(again.code, 2, 'an unfinished remove blocks other changes');
      assert.match(again.stderr, /kadd remove --resume/);
      const res = await h.kadd(['remove', ...FAST, '--resume', h.cfgPath]);
      assert.equal(res.code, 0, res.stderr);
      assert.ok(!h.nodes().has('demo-node-3'));
      assert.ok(!h.serverNames().includes('demo-node-3'));
    });
  });

  it('bad input: one line naming the problem, exit 2, no API call', async () => {
    await withSim({}, async (h) => {
      const before = h.counters();
      for (const [args, re] of [
        [['remove', h.cfgPath], /name the nodes to remove, or give --role and --amount/],
        [['remove', '--drain-timeout', 'soon', h.cfgPath, 'demo-node-1'], /--drain-timeout must be a duration/],
        [['remove', '--role', 'master', '--amount', '2', h.cfgPath], /one per run/],
        [['remove', '--amount', '1', h.cfgPath, 'demo-node-1'], /not both/],
      ] as const) {
        const r = await h.kadd([...args]);
        assert.equal(r.code, 2, `${args.join(' ')}: ${r.stderr}`);
        assert.match(r.stderr, re);
      }
      assert.deepEqual(h.counters(), before);
      const unknown = await h.kadd(['remove', ...FAST, h.cfgPath, 'demo-node-9']);
      assert.equal(unknown.code, 2);
      assert.match(unknown.stderr, /demo-node-9 is neither a server nor a Node of this cluster/);
    });
  });

  it('refuses without --yes when stdin is not a terminal (nothing changed)', async () => {
    await withSim({}, async (h) => {
      const before = realMutations(h);
      const r = await h.kadd(['remove', '--poll-interval', '25', h.cfgPath, 'demo-node-3']);
      assert.equal(r.code, 2, r.stderr);
      assert.match(r.stderr, /stdin is not a terminal: give --yes/);
      assert.deepEqual(realMutations(h), before);
    });
  });

  it('a worker kadd added (its own port and boot volume), whose port was already deleted out of band: removed, nothing of it left', async () => {
    await withSim({ nodes: 1 }, async (h) => {
      const add = await h.kadd(['add', '--poll-interval', '25', '--timeout', '10', '--boot-timeout', '10', h.cfgPath]);
      assert.equal(add.code, 0, add.stderr);
      const port = h.ports().find((p) => p.name === 'demo-node-2-port-0');
      assert.ok(port, JSON.stringify(h.ports()));
      assert.ok(h.volumes().some((v) => v.name === 'demo-node-2-root'));
      const tok = await fetch(`${h.sim.baseUrl}/identity/v3/auth/tokens`, {
        method: 'POST', headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ auth: { identity: { methods: ['password'], password: { user: { name: 'kadd', domain: { name: 'Default' }, password: 'kadd-secret' } } }, scope: { project: { name: 'kadd', domain: { name: 'Default' } } } } }),
      });
      const del = await fetch(`${h.sim.baseUrl}/network/v2.0/ports/${port!.id}`, { method: 'DELETE', headers: { 'x-auth-token': tok.headers.get('x-subject-token')! } });
      assert.equal(del.status, 204);
      const r = await h.kadd(['remove', ...FAST, h.cfgPath, 'demo-node-2']);
      assert.equal(r.code, 0, r.stderr);
      for (let i = 0; i < 100 && h.volumes().some((v) => v.name === 'demo-node-2-root'); i++) await new Promise((res) => setTimeout(res, 50));
      assert.ok(!h.servers().some((x) => x.name === 'demo-node-2'));
      assert.ok(!h.volumes().some((v) => v.name === 'demo-node-2-root'), JSON.stringify(h.volumes()));
      assert.ok(!h.ports().some((p) => p.name.startsWith('demo-node-2')));
      assert.ok(!h.nodes().has('demo-node-2'));
    });
  });
});
