import assert from 'node:assert/strict';
import type { KubeApi } from '../../lib/kube/types.js';
import type { OpenStackClient } from '../../lib/openstack/types.js';
import type { Clock } from '../../lib/clock.js';
import { fake } from './fake.js';

describe('fake<T>()', () => {
  it('answers with the stubs it was given, nested service objects included', async () => {
    const kube = fake<KubeApi>({ deleteNode: async () => undefined }, 'KubeApi');
    assert.equal(await kube.deleteNode('n1'), undefined);
    const os = fake<OpenStackClient>({ volume: { getVolume: async (id) => ({ id, name: 'v', status: 'available', size: 1 }) } }, 'OpenStackClient');
    assert.equal((await os.volume.getVolume('v1'))?.id, 'v1');
  });

  it('names the member that was called but not stubbed, at any depth', async () => {
    const kube = fake<KubeApi>({}, 'KubeApi');
    assert.throws(() => kube.listNodes(), { message: 'fake KubeApi: listNodes() is not stubbed (give it in the fake\'s partial)' });
    const os = fake<OpenStackClient>({ volume: {} }, 'OpenStackClient');
    assert.throws(() => os.compute.listServers(), /fake OpenStackClient: compute\.listServers\(\) is not stubbed/);
    assert.throws(() => os.volume.deleteVolume('v'), /fake OpenStackClient: volume\.deleteVolume\(\) is not stubbed/);
  });

  it('is not mistaken for a promise (an async function may return it) and keeps plain data', async () => {
    const clock = fake<Clock & { t: number }>({ t: 5, now: () => 5 });
    const got = await (async () => clock)();
    assert.equal(got.t, 5);
    assert.equal(got.now(), 5);
    assert.equal(JSON.stringify(fake<{ a: number[] }>({ a: [1] })), '{"a":[1]}');
  });

  it('keeps type checking (these lines must fail tsc if the fake ever stops checking)', () => {
    // @ts-expect-error: a member KubeApi does not have
    fake<KubeApi>({ listNodez: async () => [] });
    // @ts-expect-error: the wrong return type for listNodes
    fake<KubeApi>({ listNodes: async () => 'not nodes' });
    // @ts-expect-error: the wrong parameter type in a nested service
    fake<OpenStackClient>({ volume: { getVolume: async (id: number) => null } });
  });
});
