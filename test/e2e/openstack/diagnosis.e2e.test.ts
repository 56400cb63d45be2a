/**
 * Failure diagnosis on the real Zed cloud (issue 14), `node bin/kadd.js add` with the Kubernetes side from
 * the simulator:
 *   - a boot volume whose volume type has no backend goes to `error`: kadd explains it from Cinder's user
 *     message (GET /v3/{project}/messages), and the progress line does not say "failed" twice;
 *   - a flavor whose extra specs no host satisfies (a required trait nobody has) ends in NoValidHost: kadd
 *     names the extra specs instead of "a smaller --flavor".
 * Both made with the admin API (a volume type `volume_backend_name=nope`, a flavor `trait:CUSTOM_...=required`),
 * removed afterwards with everything kadd might have left.
 *
 * Not here: a server ERROR with a "Quota exceeded" fault (Nova's conductor re-check when two creates race)
 * cannot be produced on demand on this cloud; the simulator test covers it (add-workers-diagnosis.test.ts).
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Session, cloudUnavailable, e2eEnv, readCloud } from './helpers.js';
import { describeLeftovers, kaddEnv, purge, purgeNetwork, runKadd, show, waitNothingLeft } from './kadd-helpers.js';

describe('e2e: kadd add failure diagnosis on the real OpenStack', function () {
  this.timeout(300_000);
  const env = e2eEnv();
  const cluster = `e2d${Date.now().toString(36).slice(-6)}`;
  const names = { network: `${cluster}-net`, subnet: `${cluster}-subnet`, router: `${cluster}-rt`, securityGroup: `${cluster}-sg` };
  const volumeType = `${cluster}-nobackend`;
  const flavorName = `${cluster}-specs`;
  let user: Session;
  let admin: Session;
  let sim: any;
  let dir = '';
  let childEnv: NodeJS.ProcessEnv;
  let typeId = '';
  let flavorId = '';

  const cfgText = (extra: string) => [
    `cluster-name: ${cluster}`, 'n-masters: 1', 'n-nodes: 0', `keypair: ${env.keypair}`, `master_flavor: ${env.flavor}`, `node_flavor: ${env.flavor}`,
    'availability-zones:', `  - ${env.az}`, `image: ${env.image}`,
    'private_net:', `  name: ${names.network}`, '  subnet:', `    name: ${names.subnet}`, '    cidr: 10.77.0.0/24', '    router:', `      name: ${names.router}`,
    'loadbalancer:', `  name: ${cluster}-lb`, '  floatingip: 127.0.0.1',
    'version:', '  k8s: 1.30.2', 'volume_size: 1', `security_group: ${names.securityGroup}`, extra, '',
  ].join('\n');

  function writeCfg(name: string, extra = ''): string {
    const p = join(dir, name);
    writeFileSync(p, cfgText(extra));
    return p;
  }

  before(async function () {
    const why = await cloudUnavailable(env);
    if (why) {
      console.log(`      skipped: ${why}`);
      this.skip();
    }
    user = await Session.password(readCloud(env.clouds, env.cloud));
    admin = await Session.password(readCloud(env.clouds, env.adminCloud));
    typeId = (await admin.req('POST', 'volumev3', '/types', { volume_type: { name: volumeType, extra_specs: { volume_backend_name: 'nope' } } })).body.volume_type.id;
    flavorId = (await admin.req('POST', 'compute', '/flavors', { flavor: { name: flavorName, vcpus: 1, ram: 512, disk: 1 } })).body.flavor.id;
    await admin.req('POST', 'compute', `/flavors/${flavorId}/os-extra_specs`, { extra_specs: { 'trait:CUSTOM_KADD_E2E_NOPE': 'required' } });
    const { startSim } = await import('../../sim/index.js');
    sim = await startSim({ requireKube: true, scenario: { seed: 7, cluster: { name: cluster, masters: 1, nodes: 0, k8sVersion: '1.30.2' } } });
    dir = mkdtempSync(join(tmpdir(), 'kadd-e2e-diag-'));
    writeFileSync(
      join(dir, 'kubeconfig'),
      `apiVersion: v1\nkind: Config\nclusters:\n- name: sim\n  cluster:\n    server: ${sim.baseUrl}\nusers:\n- name: admin\n  user:\n    token: sim-admin-token\ncontexts:\n- name: sim\n  context:\n    cluster: sim\n    user: admin\ncurrent-context: sim\n`,
    );
    childEnv = kaddEnv({ OS_CLIENT_CONFIG_FILE: env.clouds, OS_CLOUD: env.cloud, KUBECONFIG: join(dir, 'kubeconfig'), HOME: dir });
  });

  after(async function () {
    if (user) {
      await purge(user, cluster);
      await purgeNetwork(user, names);
    }
    if (admin && typeId) await admin.req('DELETE', 'volumev3', `/types/${typeId}`, undefined, [202, 204, 404]).catch(() => {});
    if (admin && flavorId) await admin.req('DELETE', 'compute', `/flavors/${flavorId}`, undefined, [202, 204, 404]).catch(() => {});
    if (sim) await sim.stop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('a boot volume in error (volume type without a backend): Cinder\'s user message is the diagnosis', async function () {
    const cfg = writeCfg('vol.yml', `storage_class: ${volumeType}`);
    const r = await runKadd(['add', '--amount', '1', '--poll-interval', '1000', '--boot-timeout', '180', cfg], childEnv, dir);
    assert.equal(r.code, 1, show(r));
    assert.match(r.stderr, new RegExp(`${cluster}-node-1: Cinder could not create boot volume ${cluster}-node-1-root: schedule allocate volume:Could not find any available weighted backend\\.`), show(r));
    assert.match(r.stderr, new RegExp(`next step: no storage backend can hold it: check volume type ${volumeType} in zone ${env.az}`), show(r));
    assert.match(r.stderr, /evidence: cinder: .*\(VOLUME_VOLUME_\d+_\d+\)/, show(r));
    // the node's failure line (add's stage events replaced its FAILED progress line) names the cause once
    assert.match(r.stderr, new RegExp(`${cluster}-node-1: add failed after [^:]+: boot volume .* went to error`), show(r));
    assert.doesNotMatch(r.stderr, /failed(?: after [^:]+)?: failed/i);
    const left = await waitNothingLeft(user, cluster);
    assert.equal(describeLeftovers(left), 'nothing');
  });

  it('NoValidHost from a flavor\'s extra specs: the specs are named, not capacity', async function () {
    const cfg = writeCfg('specs.yml');
    const r = await runKadd(['add', '--amount', '1', '--flavor', flavorName, '--poll-interval', '1000', '--boot-timeout', '180', cfg], childEnv, dir);
    assert.equal(r.code, 1, show(r));
    assert.match(r.stderr, new RegExp(`Nova found no host that satisfies the extra specs of flavor ${flavorName} \\(trait:CUSTOM_KADD_E2E_NOPE=required\\)`), show(r));
    assert.match(r.stderr, /evidence: No valid host was found/, show(r));
    assert.doesNotMatch(r.stderr, /smaller --flavor/);
    const left = await waitNothingLeft(user, cluster);
    assert.equal(describeLeftovers(left), 'nothing');
  });
});
