import { strict as assert } from 'node:assert';
import { readFileSync } from 'node:fs';
import { load } from 'js-yaml';
import { ALLOWED_TOP_LEVEL_KEYS, renderMasterUserData, renderWorkerUserData, unknownTopLevelKeys } from '../../lib/cloudinit/index.js';
import { VERSIONS, masterInput, workerInput } from './helpers.js';

type Validate = ((d: unknown) => boolean) & { errors?: { instancePath: string; message?: string }[] | null };
let validate: Validate;

describe('cloudinit/schema (Debian cloud-init 22.4 JSON schema, ajv draft-04)', function () {
  this.timeout(60000);
  before(async () => {
    const mod = (await import('ajv-draft-04')) as unknown as { default: new (o: object) => { compile(s: object): unknown } };
    const Ajv04 = mod.default;
    const schema = JSON.parse(readFileSync(new URL('../../fixtures/cloudinit/schema-cloud-config-v1.json', import.meta.url), 'utf8')) as object;
    const ajv = new Ajv04({ allErrors: true, strict: false, logger: false });
    validate = ajv.compile(schema) as Validate;
  });

  function check(text: string, what: string): void {
    const doc = load(text);
    const ok = validate(doc);
    assert.ok(ok, `${what}: ${JSON.stringify(validate.errors)}`);
    assert.deepEqual(unknownTopLevelKeys(doc), [], `${what}: keys outside kadd's allow-list`);
  }

  it('the schema rejects what cloud-init rejects (so the check can fail)', () => {
    assert.equal(validate({ runcmd: 'kubeadm join', write_files: [{ contents: 'x' }], package_update: 'yes' }), false);
    const paths = (validate.errors ?? []).map((e) => e.instancePath);
    assert.ok(paths.includes('/runcmd') && paths.includes('/package_update'), JSON.stringify(paths));
    assert.equal(validate({ write_files: [{ path: '/x', content: 'y', permissions: 600 }] }), false);
  });

  it('the allow-list catches typos cloud-init 22.4 lets through', () => {
    assert.equal(validate({ runkmd: [['true']] }), true, 'cloud-init 22.4 passes unknown keys');
    assert.deepEqual(unknownTopLevelKeys({ runkmd: [['true']], runcmd: [] }), ['runkmd']);
    assert.deepEqual(unknownTopLevelKeys(['not', 'a', 'map']), ['<document is not a mapping>']);
    assert.ok(ALLOWED_TOP_LEVEL_KEYS.includes('write_files'));
  });

  for (const ver of VERSIONS) {
    it(`worker and master user-data for ${ver} pass the schema and the allow-list`, async () => {
      check((await renderWorkerUserData(workerInput({ k8sVersion: ver, labels: { 'example.com/a': 'b' }, taints: [{ key: 'k', value: 'v', effect: 'NoSchedule' }] }))).text, `worker ${ver}`);
      check((await renderMasterUserData(masterInput({ k8sVersion: ver }))).text, `master ${ver}`);
      check((await renderMasterUserData(masterInput({ k8sVersion: ver, advertiseAddress: '10.1.2.3', requestedBy: 'x "y"\nz' }))).text, `master ${ver} with address`);
    });
  }
});
