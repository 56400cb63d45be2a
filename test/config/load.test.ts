import assert from 'node:assert/strict';
import { parseClusterConfig } from '../../lib/config/load.js';
import { levenshtein, suggest } from '../../lib/config/suggest.js';
import { ConfigError } from '../../lib/errors.js';

const BASE = 'cluster-name: prod\nn-masters: 3\nn-nodes: 2\nkeypair: ops\nmaster_flavor: m\nnode_flavor: n\nimage: img\n';
const parse = (text: string, strict = false) => parseClusterConfig(text, { file: '/c/cfg.yml', display: 'cfg.yml', strict, env: { HOME: '/home/op' } });

describe('cluster config', () => {
  it('fills in the koris defaults', () => {
    const { config } = parse(BASE);
    assert.equal(config.privateNet.name, 'prod-net');
    assert.equal(config.privateNet.subnet.name, 'prod-subnet');
    assert.equal(config.privateNet.subnet.cidr, '192.168.0.0/16');
    assert.equal(config.privateNet.subnet.router.name, 'prod-rt');
    assert.equal(config.loadbalancer.name, 'prod-lb');
    assert.equal(config.podSubnet, '10.233.0.0/16');
    assert.equal(config.podNetwork, 'CALICO');
    assert.equal(config.volumeSize, 25);
    assert.equal(config.securityGroup, 'prod-sec-group');
    assert.deepEqual(config.ssh, { user: 'ubuntu', port: 22, hostKeys: {} });
    assert.deepEqual(config.availabilityZones, []);
    assert.equal(config.version.k8s, '');
  });

  it('warns when version.k8s is missing', () => {
    assert.ok(parse(BASE).warnings.some((w) => /version.k8s is not set/.test(w.message)));
  });

  it('accepts koris\'s misspelt availibility-zones', () => {
    assert.deepEqual(parse(`${BASE}availibility-zones: [a, b]\n`).config.availabilityZones, ['a', 'b']);
  });

  it('unknown keys: a warning with "did you mean" and the line; an error with strict', () => {
    const { warnings } = parse(`${BASE}node_flavour: x\n`);
    assert.deepEqual(warnings.map((w) => w.message), ['cfg.yml: node_flavour: unknown key; did you mean node_flavor? (line 8)', 'cfg.yml: version: version.k8s is not set; kadd will use the version the control plane runs']);
    assert.throws(() => parse(`${BASE}node_flavour: x\n`, true), (e: ConfigError) => /node_flavour: unknown key; did you mean node_flavor\?/.test(e.message) && e.exitCode === 2);
  });

  it('resolves ssh paths against the config directory and ~', () => {
    const { config } = parse(`${BASE}ssh:\n  private_key: ~/.ssh/id\n  known_hosts: kh\n  bastion: jump@bastion.example:2200\n`);
    assert.equal(config.ssh.privateKey, '/home/op/.ssh/id');
    assert.equal(config.ssh.knownHosts, '/c/kh');
    assert.deepEqual(config.ssh.bastion, { host: 'bastion.example', port: 2200, user: 'jump' });
  });

  it('parses taints and labels', () => {
    const { config } = parse(`${BASE}node_labels:\n  tier: "1"\n  x.io/y: ""\nnode_taints: ["a=b:NoSchedule", "c:NoExecute"]\n`);
    assert.deepEqual(config.nodeLabels, { tier: '1', 'x.io/y': '' });
    assert.deepEqual(config.nodeTaints, [{ key: 'a', value: 'b', effect: 'NoSchedule' }, { key: 'c', effect: 'NoExecute' }]);
  });

  it('normalises v-prefixed versions and pod_network case', () => {
    const { config } = parse(`${BASE}version:\n  k8s: v1.29.03\npod_network: flannel\n`);
    assert.equal(config.version.k8s, '1.29.3');
    assert.equal(config.podNetwork, 'FLANNEL');
  });

  it('warns about host bits in a CIDR', () => {
    const { warnings } = parse(`${BASE}pod_subnet: 10.233.1.0/16\n`);
    assert.ok(warnings.some((w) => /did you mean 10.233.0.0\/16\?/.test(w.message)));
  });

  it('never echoes user_data or an inline key', () => {
    assert.throws(() => parse(`${BASE}ssh:\n  private_key: "-----BEGIN RSA PRIVATE KEY-----abc"\n`), (e: Error) => !/BEGIN RSA/.test(e.message));
  });
});

describe('suggest', () => {
  it('levenshtein', () => {
    assert.equal(levenshtein('kitten', 'sitting'), 3);
    assert.equal(levenshtein('', 'abc'), 3);
    assert.equal(levenshtein('same', 'same'), 0);
  });
  it('treats _ and - alike and refuses far-off guesses', () => {
    assert.equal(suggest('cluster_name', ['cluster-name', 'image']), 'cluster-name');
    assert.equal(suggest('zzzz', ['cluster-name', 'image']), undefined);
  });
});
