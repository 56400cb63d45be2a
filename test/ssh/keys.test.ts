import { strict as assert } from 'node:assert';
import { generateKeyPairSync } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import ssh2 from 'ssh2';
import { loadPrivateKey } from '../../lib/ssh/keys.js';
import { redactText } from '../../lib/redact.js';

describe('ssh private keys', () => {
  let dir: string;
  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'kadd-keys-'));
    const plain = ssh2.utils.generateKeyPairSync('ed25519');
    writeFileSync(join(dir, 'ok'), plain.private);
    writeFileSync(join(dir, 'ok.pub'), plain.public);
    const enc = ssh2.utils.generateKeyPairSync('ed25519', { passphrase: 'correct horse', cipher: 'aes256-ctr', rounds: 4 });
    writeFileSync(join(dir, 'enc'), enc.private);
    const { privateKey } = generateKeyPairSync('ed25519');
    writeFileSync(join(dir, 'pkcs8'), privateKey.export({ type: 'pkcs8', format: 'pem' }));
    writeFileSync(join(dir, 'pkcs8enc'), privateKey.export({ type: 'pkcs8', format: 'pem', cipher: 'aes-256-cbc', passphrase: 'x' }));
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('loads an OpenSSH key', async () => {
    const k = await loadPrivateKey(join(dir, 'ok'));
    assert.equal(k.type, 'ssh-ed25519');
  });
  it('encrypted key: clear error without passphrase, works with it, wrong passphrase named', async () => {
    await assert.rejects(loadPrivateKey(join(dir, 'enc')), (e: Error & { code: string; exitCode: number }) => {
      assert.equal(e.code, 'E_SSH_KEY');
      assert.equal(e.exitCode, 2);
      assert.match(e.message, /is encrypted and no passphrase was given/);
      return true;
    });
    const k = await loadPrivateKey(join(dir, 'enc'), 'correct horse');
    assert.equal(k.type, 'ssh-ed25519');
    assert.equal(redactText('pass correct horse'), 'pass <redacted>');
    await assert.rejects(loadPrivateKey(join(dir, 'enc'), 'wrong one'), (e: Error) => {
      assert.match(e.message, /wrong passphrase|cannot be used/);
      assert.ok(!e.message.includes('wrong one'));
      return true;
    });
  });
  it('PKCS#8 ed25519 (plain and encrypted) gets a conversion hint', async () => {
    await assert.rejects(loadPrivateKey(join(dir, 'pkcs8')), /PKCS#8 PEM format \(ed25519\), which ssh2 cannot use/);
    await assert.rejects(loadPrivateKey(join(dir, 'pkcs8enc')), /encrypted PKCS#8 key/);
  });
  it('missing file and public key', async () => {
    await assert.rejects(loadPrivateKey(join(dir, 'nope')), /cannot read SSH private key .*: no such file/);
    await assert.rejects(loadPrivateKey(join(dir, 'ok.pub')), /public key|cannot be used/);
  });
});
