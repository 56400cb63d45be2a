import { strict as assert } from 'node:assert';
import { readFileSync } from 'node:fs';
import { entryMatchesHost, fingerprintOf, keyTypeOf, normalizeFingerprint, parseKnownHosts, verifyHostKey } from '../../lib/ssh/hostkeys.js';
import { shellJoin, shellQuote } from '../../lib/shell.js';
import { execFileSync } from 'node:child_process';

const fx = (n: string) => readFileSync(new URL(`../../fixtures/ssh/${n}`, import.meta.url), 'utf8');
const blob = (t: string) => Buffer.from(fx(`host_${t}.pub`).split(' ')[1], 'base64');
/** fingerprints as printed by ssh-keygen -lf (captured in fixtures/ssh/fingerprints.txt) */
const FP = Object.fromEntries(
  fx('fingerprints.txt')
    .trim()
    .split('\n')
    .map((l) => [/\((\w+)\)$/.exec(l)![1].toLowerCase(), l.split(' ')[1]]),
) as Record<'ed25519' | 'ecdsa' | 'rsa', string>;

describe('ssh host keys', () => {
  const plain = parseKnownHosts(fx('known_hosts.plain'));
  const hashed = parseKnownHosts(fx('known_hosts.hashed'));

  it('fingerprints equal ssh-keygen -lf', () => {
    assert.equal(fingerprintOf(blob('ed25519')), FP.ed25519);
    assert.equal(fingerprintOf(blob('ecdsa')), FP.ecdsa);
    assert.equal(fingerprintOf(blob('rsa')), FP.rsa);
    assert.equal(keyTypeOf(blob('ecdsa')), 'ecdsa-sha2-nistp256');
    assert.equal(normalizeFingerprint(FP.rsa + '='), FP.rsa);
    assert.throws(() => normalizeFingerprint('MD5:aa:bb'), /expected SHA256:/);
  });

  it('parses plain, [host]:port, wildcard/negated and hashed entries', () => {
    assert.equal(plain.length, 3);
    assert.ok(entryMatchesHost(plain[0], '10.0.0.5', 22));
    assert.ok(!entryMatchesHost(plain[0], '10.0.0.5', 2222));
    assert.ok(entryMatchesHost(plain[1], '10.0.0.6', 2222));
    assert.ok(!entryMatchesHost(plain[1], '10.0.0.6', 22));
    assert.ok(entryMatchesHost(plain[2], '10.0.1.4', 22));
    assert.ok(!entryMatchesHost(plain[2], '10.0.1.9', 22));
    assert.equal(hashed.length, 2);
    assert.ok(hashed[0].hashed);
    assert.ok(entryMatchesHost(hashed[0], 'bastion.example', 22));
    assert.ok(!entryMatchesHost(hashed[0], 'bastion.example', 2200));
    assert.ok(entryMatchesHost(hashed[1], '10.0.0.7', 2200));
    assert.ok(!entryMatchesHost(hashed[1], '10.0.0.7', 22));
  });

  it('accepts known keys (known_hosts, hashed, ecdsa on a port, fingerprints from config)', () => {
    assert.deepEqual(verifyHostKey(blob('ed25519'), '10.0.0.5', 22, { knownHosts: plain }), { ok: true, fingerprint: FP.ed25519, keyType: 'ssh-ed25519', how: 'known_hosts' });
    assert.equal(verifyHostKey(blob('ecdsa'), '10.0.0.6', 2222, { knownHosts: plain }).ok, true);
    assert.equal(verifyHostKey(blob('rsa'), '10.0.0.7', 2200, { knownHosts: hashed }).ok, true);
    assert.equal(verifyHostKey(blob('ed25519'), 'bastion.example', 22, { knownHosts: hashed }).ok, true);
    const d = verifyHostKey(blob('rsa'), '10.0.0.8', 2222, { fingerprints: { '10.0.0.8:2222': [FP.rsa] } });
    assert.deepEqual(d, { ok: true, fingerprint: FP.rsa, keyType: 'ssh-rsa', how: 'fingerprint' });
    assert.equal(verifyHostKey(blob('rsa'), '10.0.0.8', 22, { fingerprints: { '10.0.0.8': [FP.rsa] } }).ok, true);
  });

  it('refuses a changed key always, even with an explicit accept (possible MITM)', () => {
    const d = verifyHostKey(blob('rsa'), '10.0.0.5', 22, { knownHosts: plain, knownHostsFile: '/k' }, FP.rsa);
    assert.equal(d.ok, false);
    if (d.ok) return;
    assert.equal(d.reason, 'mismatch');
    assert.match(d.message, /REMOTE HOST IDENTIFICATION HAS CHANGED for 10\.0\.0\.5/);
    assert.match(d.message, /man-in-the-middle/);
    assert.ok(d.message.includes(FP.rsa) && d.message.includes(`${FP.ed25519} (/k:2)`));
    const f = verifyHostKey(blob('ecdsa'), '10.0.0.8', 22, { fingerprints: { '10.0.0.8': [FP.rsa] } });
    assert.equal(!f.ok && f.reason, 'mismatch');
  });

  it('refuses an unknown key with its fingerprint and how to accept it; accepts it only when told', () => {
    const d = verifyHostKey(blob('ecdsa'), '10.0.0.9', 2222, { knownHosts: plain });
    assert.equal(d.ok, false);
    if (d.ok) return;
    assert.equal(d.reason, 'unknown');
    assert.ok(d.message.includes(FP.ecdsa));
    assert.ok(d.hint.includes(`--accept-host-key ${FP.ecdsa}`));
    assert.ok(d.hint.includes(`"10.0.0.9:2222": ["${FP.ecdsa}"]`));
    assert.equal(verifyHostKey(blob('ecdsa'), '10.0.0.9', 2222, {}, FP.ecdsa).ok, true);
    const wrong = verifyHostKey(blob('ecdsa'), '10.0.0.9', 2222, {}, FP.rsa);
    assert.equal(!wrong.ok && wrong.reason, 'unknown');
  });

  it('@revoked wins', () => {
    const kh = parseKnownHosts(`@revoked * ${fx('host_ed25519.pub').split(' ').slice(0, 2).join(' ')}\n` + fx('known_hosts.plain'));
    const d = verifyHostKey(blob('ed25519'), '10.0.0.5', 22, { knownHosts: kh });
    assert.equal(!d.ok && d.reason, 'revoked');
  });
});

describe('shell quoting', () => {
  it('quotes what needs quoting and round-trips through a real sh', () => {
    assert.equal(shellQuote('member'), 'member');
    assert.equal(shellQuote('--endpoints=https://10.0.0.1:2379,https://10.0.0.2:2379'), '--endpoints=https://10.0.0.1:2379,https://10.0.0.2:2379');
    assert.equal(shellQuote("it's"), `'it'\\''s'`);
    assert.equal(shellQuote(''), "''");
    assert.throws(() => shellQuote('a\0b'), /NUL/);
    const nasty = ['a b', "'; rm -rf / #", '$(id)', '`id`', '"x"', 'new\nline', '*', '~', '!', '\\'];
    const line = shellJoin(['printf', '%s\\0', ...nasty]);
    const out = execFileSync('sh', ['-c', line]).toString('utf8').split('\0').slice(0, -1);
    assert.deepEqual(out, nasty);
  });
  it('env goes in front through env(1)', () => {
    assert.equal(shellJoin(['etcdctl', 'member', 'list'], { ETCDCTL_API: '3', X: 'a b' }), "env ETCDCTL_API=3 'X=a b' etcdctl member list");
    assert.throws(() => shellJoin(['x'], { 'A;B': '1' }), /invalid environment variable/);
  });
});
