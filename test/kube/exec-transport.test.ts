import assert from 'node:assert/strict';
import { KubeExecTransport, execArgv } from '../../lib/kube/exec-transport.js';
import type { KubeApi } from '../../lib/kube/types.js';
import { fake } from '../helpers/fake.js';

describe('KubeExecTransport', () => {
  it('passes argv unchanged without env, and wraps env in a quoted sh -c line', () => {
    assert.deepEqual(execArgv(['etcdctl', 'member', 'list']), ['etcdctl', 'member', 'list']);
    assert.deepEqual(execArgv(['etcdctl', "it's"], { ETCDCTL_API: '3' }), ['/bin/sh', '-c', `ETCDCTL_API=3 etcdctl 'it'\\''s'`]);
    assert.throws(() => execArgv(['x'], { 'A-B': '1' }), /invalid environment variable/);
    assert.throws(() => execArgv([]), /empty command/);
  });

  it('runs through KubeApi.exec with the pod, container, stdin and timeout, and refuses after close', async () => {
    const calls: unknown[][] = [];
    const kube = fake<KubeApi>({ exec: async (...a) => (calls.push(a), { stdout: 'o', stderr: 'e', exitCode: 3 }) }, 'KubeApi');
    const t = new KubeExecTransport(kube, { namespace: 'kube-system', pod: 'p1', container: 'adder', nodeName: 'm1' });
    assert.equal(t.kind, 'kube');
    assert.match(t.describe, /kube-system\/p1 on m1/);
    const r = await t.run(['etcdctl', 'version'], { stdin: 'x', timeoutMs: 5 });
    assert.deepEqual(r, { stdout: 'o', stderr: 'e', exitCode: 3 });
    assert.deepEqual(calls[0], ['kube-system', 'p1', 'adder', ['etcdctl', 'version'], { stdin: 'x', timeoutMs: 5 }]);
    await t.close();
    await assert.rejects(t.run(['true']), /closed/);
  });
});
