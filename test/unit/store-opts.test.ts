// The cluster store's options (docs/reference.md §10): names, precedence, and the files they name.
import assert from 'node:assert/strict';
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { parseClusterUrl, usesTls } from '../../src/overlay/store-url.js';
import { keyValues, loadStoreAccess, parseStoreOpts } from '../../src/overlay/store-opts.js';

const dir = mkdtempSync(join(tmpdir(), 'netctl-store-opts-'));
after(() => rmSync(dir, { recursive: true, force: true }));
const file = (name: string, text: string, mode = 0o600) => {
  const p = join(dir, name);
  writeFileSync(p, text);
  chmodSync(p, mode);
  return p;
};

describe('cluster store options', () => {
  it("Docker's names only; a value may hold '='; the last given wins", () => {
    assert.deepEqual(parseStoreOpts(keyValues(['kv.cacertfile=/a=b', 'kv.username=u']), 'x'), {
      'kv.cacertfile': '/a=b',
      'kv.username': 'u',
    });
    assert.throws(() => parseStoreOpts(keyValues(['kv.cafile=/x']), '--cluster-store-opt'), {
      message: 'unknown cluster store option "kv.cafile" in --cluster-store-opt',
    });
    assert.throws(() => parseStoreOpts(keyValues(['kv.keyfile']), 'NETCTL_CLUSTER_STORE_OPTS'), /needs a value/);
    assert.throws(() => parseStoreOpts([['kv.keyfile', 7]], 'config.json'), /needs a value/);
  });

  it('reads the files; a key or password file readable by group or others is refused, naming it', () => {
    const ca = file('ca.pem', 'CA');
    const cert = file('c.pem', 'CERT', 0o644);
    const key = file('c.key', 'KEY');
    const access = loadStoreAccess({ 'kv.cacertfile': ca, 'kv.certfile': cert, 'kv.keyfile': key });
    assert.deepEqual(
      [access.tls?.ca?.toString(), access.tls?.cert?.toString(), access.tls?.key?.toString()],
      ['CA', 'CERT', 'KEY'],
    );
    const open = file('open.key', 'KEY', 0o640);
    assert.throws(() => loadStoreAccess({ 'kv.cacertfile': ca, 'kv.certfile': cert, 'kv.keyfile': open }), {
      message: `kv.keyfile ${open} is readable by group or others`,
    });
    const pw = file('pw', 'secret\n');
    assert.deepEqual(loadStoreAccess({ 'kv.username': 'root', 'kv.password-file': pw }).auth, {
      username: 'root',
      password: 'secret',
    });
    assert.throws(
      () => loadStoreAccess({ 'kv.username': 'root', 'kv.password-file': file('pw2', 'x', 0o604) }),
      /readable by group or others/,
    );
  });

  it('refuses halves: a certificate without its key or a CA, a user without a password', () => {
    const ca = file('ca2.pem', 'CA');
    assert.throws(() => loadStoreAccess({ 'kv.cacertfile': ca, 'kv.certfile': ca }), /go together/);
    assert.throws(() => loadStoreAccess({ 'kv.certfile': ca, 'kv.keyfile': file('k', 'K') }), /needs kv.cacertfile/);
    assert.throws(() => loadStoreAccess({ 'kv.username': 'u' }), /go together/);
    assert.throws(() => loadStoreAccess({ 'kv.cacertfile': join(dir, 'nope') }), /kv.cacertfile .*nope: ENOENT/);
    assert.deepEqual(loadStoreAccess({}), {});
    assert.deepEqual(loadStoreAccess({}, true), { tls: {} }, 'an https:// endpoint alone: TLS with the system CAs');
  });

  it('https:// endpoints are taken and ask for TLS', () => {
    assert.deepEqual(parseClusterUrl('etcd://https://10.0.0.1:2379,10.0.0.2:2379'), ['10.0.0.1:2379', '10.0.0.2:2379']);
    assert.equal(usesTls('etcd://https://10.0.0.1:2379'), true);
    assert.equal(usesTls('etcd://10.0.0.1:2379'), false);
  });
});
