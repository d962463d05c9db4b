// The firewall seam against a fake Runner: the exact processes a sync runs and what it writes,
// the refusal of unsafe text, and drift() read from iptables-save output.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { FwModel } from '../../src/firewall/firewall.js';
import { defaultBackend, makeFirewall, parseBackend } from '../../src/firewall/index.js';
import { chmodSync, mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { IptablesBackend, IptablesFirewall } from '../../src/firewall/iptables/backend.js';
import { NftablesFirewall } from '../../src/firewall/nftables/backend.js';
import { checkRestore } from '../../src/firewall/iptables/guard.js';
import { diffRuleset, parsePresent, ruleset } from '../../src/firewall/iptables/rules.js';
import type { RunOptions, RunResult, Runner } from '../../src/kernel/runner.js';
import { SystemError } from '../../src/lib/errors.js';
import { db, model, port, web } from '../helpers/fw-model.js';

interface Call {
  file: string;
  args: string[];
  input?: string;
}

/** Answers iptables-save with `save` and iptables-restore with the next of `restoreExits` (default 0). */
class FakeRunner implements Runner {
  calls: Call[] = [];
  constructor(
    public save = '',
    public restoreExits: number[] = [],
  ) {}

  async run(file: string, args: string[], opts: RunOptions = {}): Promise<RunResult> {
    this.calls.push({ file, args, ...(typeof opts.input === 'string' ? { input: opts.input } : {}) });
    if (file.endsWith('-save')) return { stdout: this.save, stderr: '', exitCode: 0 };
    if (file.endsWith('-restore')) {
      const exitCode = this.restoreExits.shift() ?? 0;
      return { stdout: '', stderr: exitCode ? 'iptables-restore: line 2 failed' : '', exitCode };
    }
    return { stdout: '', stderr: `${file}: not faked`, exitCode: 127 };
  }

  async sysctl(): Promise<boolean> {
    return false;
  }

  restores(): Call[] {
    return this.calls.filter((c) => c.file.endsWith('-restore'));
  }
}

const none = parsePresent('');

/** What iptables-save prints once `m` was written on an empty host: jumps become appends, built-ins are declared. */
function saveOf(m: FwModel): string {
  return ruleset(m, none)
    .replace(/^-I (\S+) 1 /gm, '-A $1 ')
    .replace('*filter\n', '*filter\n:INPUT ACCEPT [0:0]\n:FORWARD ACCEPT [0:0]\n:OUTPUT ACCEPT [0:0]\n')
    .replace('*nat\n', '*nat\n:PREROUTING ACCEPT [0:0]\n:OUTPUT ACCEPT [0:0]\n:POSTROUTING ACCEPT [0:0]\n');
}

describe('firewall seam: the default backend', () => {
  it('is iptables when an executable iptables is on PATH (a link to one counts), else nftables', () => {
    const d = mkdtempSync(join(tmpdir(), 'netctl-path-'));
    const saved = process.env['PATH'];
    try {
      const [plain, dir, exe, link] = ['plain', 'dir', 'exe', 'link'].map((n) => join(d, n)) as [
        string,
        string,
        string,
        string,
      ];
      for (const p of [plain, exe, link, join(dir, 'iptables')]) mkdirSync(p, { recursive: true });
      writeFileSync(join(plain, 'iptables'), '');
      chmodSync(join(plain, 'iptables'), 0o644);
      writeFileSync(join(exe, 'real'), '#!/bin/sh\n');
      chmodSync(join(exe, 'real'), 0o755);
      symlinkSync(join(exe, 'real'), join(link, 'iptables'));
      const under = (path: string) => {
        process.env['PATH'] = path;
        return defaultBackend();
      };
      assert.equal(
        under(`${plain}:${dir}:/nonexistent`),
        'nftables',
        'a file without x bits, or a directory, is not iptables',
      );
      assert.equal(under(`::${plain}:${link}`), 'iptables');
      assert.equal(under(''), 'nftables');
    } finally {
      process.env['PATH'] = saved;
      rmSync(d, { recursive: true, force: true });
    }
  });
});

describe('firewall seam: sync', () => {
  it('makeFirewall gives the backend asked for; the default is iptables when the command exists, else nftables', () => {
    const fw = makeFirewall(new FakeRunner(), undefined, 'iptables');
    assert.ok(fw.chosen instanceof IptablesBackend);
    assert.equal(fw.name, 'iptables');
    const nft = makeFirewall(new FakeRunner(), undefined, 'nftables');
    assert.ok(nft.chosen instanceof NftablesFirewall);
    assert.equal(nft.name, 'nftables');
    const path = process.env['PATH'];
    try {
      process.env['PATH'] = '/nonexistent';
      assert.equal(makeFirewall(new FakeRunner()).name, 'nftables');
      process.env['PATH'] = path;
      assert.equal(makeFirewall(new FakeRunner()).name, 'iptables', 'iptables is installed here');
    } finally {
      process.env['PATH'] = path;
    }
    assert.throws(
      () => parseBackend('pf', 'NETCTL_FIREWALL_BACKEND'),
      /^InvalidArgumentError|invalid firewall backend "pf" in NETCTL_FIREWALL_BACKEND: iptables or nftables/,
    );
  });

  it('prev=null: one iptables-save, then one iptables-restore --noflush -w of the full ruleset', async () => {
    const runner = new FakeRunner();
    await new IptablesFirewall(runner).sync(null, model);
    assert.deepEqual(runner.calls, [
      { file: 'iptables-save', args: [] },
      { file: 'iptables-restore', args: ['--noflush', '-w'], input: ruleset(model, none) },
    ]);
    // Not vacuous: the text written holds the model's rules and every declaration.
    assert.match(runner.calls[1]?.input ?? '', /^:NETCTL-FORWARD - \[0:0\]$/m);
    assert.match(
      runner.calls[1]?.input ?? '',
      /^-A NETCTL -p tcp -m tcp --dport 8080 -j DNAT --to-destination 10\.1\.0\.5:80 /m,
    );
  });

  it('prev=null on a host that has the chains: still a full rewrite, jumps not added twice', async () => {
    const runner = new FakeRunner(saveOf(model));
    await new IptablesFirewall(runner).sync(null, model);
    const input = runner.restores()[0]?.input ?? '';
    assert.equal(input, ruleset(model, parsePresent(saveOf(model))));
    assert.doesNotMatch(input, /^-I |NETCTL-USER - \[0:0\]/m);
  });

  it('with prev and complete chains: only the difference', async () => {
    const next: FwModel = { networks: [web, db], ports: [{ ...port, containerIP: '10.1.0.9' }] };
    const runner = new FakeRunner(saveOf(model));
    await new IptablesFirewall(runner).sync(model, next);
    assert.equal(runner.calls.length, 2);
    const input = runner.restores()[0]?.input;
    assert.equal(input, diffRuleset(model, next));
    assert.equal(
      input,
      [
        '*filter',
        '-D NETCTL-PORTS -d 10.1.0.5/32 -o nc-aaaaaaaaaaaa -p tcp -m tcp --dport 80 -m conntrack --ctstate ' +
          'DNAT -j ACCEPT -m comment --comment netctl:cccccccccccc',
        '-A NETCTL-PORTS -d 10.1.0.9/32 -o nc-aaaaaaaaaaaa -p tcp -m tcp --dport 80 -m conntrack --ctstate ' +
          'DNAT -j ACCEPT -m comment --comment netctl:cccccccccccc',
        'COMMIT',
        '*nat',
        '-D NETCTL -p tcp -m tcp --dport 8080 -j DNAT --to-destination 10.1.0.5:80 -m comment --comment ' +
          'netctl:cccccccccccc',
        '-D NETCTL-POSTROUTING -s 10.1.0.5/32 -d 10.1.0.5/32 -p tcp -m tcp --dport 80 -j MASQUERADE -m ' +
          'comment --comment netctl:cccccccccccc',
        '-A NETCTL -p tcp -m tcp --dport 8080 -j DNAT --to-destination 10.1.0.9:80 -m comment --comment ' +
          'netctl:cccccccccccc',
        '-A NETCTL-POSTROUTING -s 10.1.0.9/32 -d 10.1.0.9/32 -p tcp -m tcp --dport 80 -j MASQUERADE -m ' +
          'comment --comment netctl:cccccccccccc',
        'COMMIT',
        '',
      ].join('\n'),
    );
  });

  it('prefetch: the next sync uses that read, and only that one sync (after a restore, a new read)', async () => {
    const runner = new FakeRunner(saveOf(model));
    const fw = new IptablesFirewall(runner);
    fw.prefetch();
    assert.deepEqual(
      runner.calls.map((c) => c.file),
      ['iptables-save'],
      'read at once',
    );
    runner.save = ''; // what a later read would see: a prefetched sync must not read again
    await fw.sync(model, { networks: [web, db], ports: [] });
    assert.deepEqual(
      runner.calls.map((c) => c.file),
      ['iptables-save', 'iptables-restore'],
    );
    assert.match(
      runner.restores()[0]?.input ?? '',
      /^-D NETCTL /m,
      'a difference: the chains were complete in the prefetched read',
    );
    await fw.sync(model, model);
    assert.deepEqual(
      runner.calls.map((c) => c.file),
      ['iptables-save', 'iptables-restore', 'iptables-save', 'iptables-restore'],
      'read again, and found empty: a rewrite',
    );
  });

  it('with prev and nothing changed: no restore at all', async () => {
    const runner = new FakeRunner(saveOf(model));
    await new IptablesFirewall(runner).sync(model, model);
    assert.deepEqual(
      runner.calls.map((c) => c.file),
      ['iptables-save'],
    );
  });

  it('a difference the kernel refuses falls back to the full rewrite', async () => {
    const next: FwModel = { networks: [web], ports: [] };
    const runner = new FakeRunner(saveOf(model), [1, 0]);
    await new IptablesFirewall(runner).sync(model, next);
    assert.deepEqual(
      runner.restores().map((c) => c.input),
      [diffRuleset(model, next), ruleset(next, parsePresent(saveOf(model)))],
    );
  });

  it("a failed full rewrite is a SystemError carrying iptables-restore's message", async () => {
    const runner = new FakeRunner('', [1]);
    await assert.rejects(
      new IptablesFirewall(runner).sync(null, model),
      (e: Error) => e instanceof SystemError && /^iptables-restore: .*line 2 failed$/.test(e.message),
    );
  });

  it('a host on the legacy backend gets iptables-legacy-save and -restore', async () => {
    const runner = new FakeRunner('# Warning: iptables-legacy tables present, use iptables-legacy-save to see them\n');
    await new IptablesFirewall(runner).sync(null, model);
    assert.deepEqual(
      runner.calls.map((c) => c.file),
      ['iptables-save', 'iptables-legacy-save', 'iptables-legacy-restore'],
    );
  });
});

describe('firewall seam: unsafe text is never written', () => {
  for (const bridge of ['br x', 'br\nx', 'br\n-A FORWARD -j ACCEPT']) {
    it(`refuses a bridge named ${JSON.stringify(bridge)} and runs no iptables-restore`, async () => {
      const runner = new FakeRunner();
      const bad: FwModel = { networks: [{ ...web, bridge }], ports: [] };
      await assert.rejects(
        new IptablesFirewall(runner).sync(null, bad),
        (e: Error) =>
          e instanceof SystemError &&
          e.message === `refusing unsafe interface name for iptables-restore: ${JSON.stringify(bridge)}`,
      );
      assert.deepEqual(runner.restores(), []);
    });
  }

  it('refuses other unsafe model values: addresses, subnets, ports, ids', async () => {
    const cases: Array<[FwModel, RegExp]> = [
      [{ networks: [{ ...web, subnets: ['10.1.0.0/24 -j ACCEPT'] }], ports: [] }, /unsafe subnet/],
      [{ networks: [web], ports: [{ ...port, containerIP: '10.1.0.5"' }] }, /unsafe address/],
      [{ networks: [web], ports: [{ ...port, hostIP: '0.0.0.0 ' }] }, /unsafe address/],
      [{ networks: [web], ports: [{ ...port, hostPort: 0 }] }, /unsafe port/],
      [{ networks: [{ ...web, id12: 'aa#b' }], ports: [] }, /unsafe network id/],
    ];
    for (const [m, re] of cases) {
      const runner = new FakeRunner();
      await assert.rejects(new IptablesFirewall(runner).sync(null, m), re);
      assert.deepEqual(runner.restores(), []);
    }
  });

  it('the text guard stops a difference built from a bad `prev` before iptables-restore runs', async () => {
    // prev is what the kernel is believed to hold; its values are not checked, its -D lines are.
    const prev: FwModel = { networks: [{ ...web, bridge: 'br"x' }], ports: [] };
    const runner = new FakeRunner(saveOf(model));
    await assert.rejects(
      new IptablesFirewall(runner).sync(prev, model),
      (e: Error) =>
        e instanceof SystemError &&
        e.message.startsWith('refusing unsafe text for iptables-restore: "-D NETCTL-FORWARD -o br\\"x '),
    );
    assert.deepEqual(runner.restores(), []);
  });

  it('checkRestore passes what netctl writes', () => {
    const full = ruleset(model, none);
    assert.equal(checkRestore(full), full);
    const diff = diffRuleset(model, { networks: [web], ports: [] }) ?? '';
    assert.equal(checkRestore(diff), diff);
  });

  it('checkRestore refuses each kind of unsafe line, naming it', () => {
    const rule = '-A NETCTL-FORWARD -o br0 -j DROP -m comment --comment netctl:aaaaaaaaaaaa';
    const bad = [
      rule.replace('-o br0', '-o  br0'), // double space
      rule.replace('-o br0', '-o\tbr0'),
      `${rule} `,
      rule.replace('br0', '"br 0"'),
      rule.replace('br0', "'br0'"),
      rule.replace('br0', 'br\\0'),
      rule.replace('netctl:aaaaaaaaaaaa', 'netctl:a#b'),
      rule.replace('br0', 'br\u00010'),
      `${rule}\r`,
      '-A FORWARD -j ACCEPT', // not netctl's chain
      '-I FORWARD 1 -j ACCEPT', // not the fixed jump
      '-F NETCTL-FORWARD',
      ':FORWARD DROP [0:0]', // a built-in chain's policy
      ':NETCTL-FORWARD ACCEPT [0:0]',
      '*mangle',
      '',
    ];
    for (const line of bad) {
      const text = `*filter\n${line}\nCOMMIT\n`;
      assert.throws(
        () => checkRestore(text),
        (e: Error) =>
          e instanceof SystemError &&
          e.message === `refusing unsafe text for iptables-restore: ${JSON.stringify(line)}`,
        JSON.stringify(line),
      );
    }
    assert.throws(() => checkRestore(`${rule}\n`), /unsafe text/, 'a rule outside a table');
    assert.throws(
      () => checkRestore('*filter\nCOMMIT'),
      /unsafe text for iptables-restore: "COMMIT"/,
      'no final newline',
    );
  });
});

describe('firewall seam: drift', () => {
  const drift = (save: string, m: FwModel = model) => new IptablesFirewall(new FakeRunner(save)).drift(m);
  const line = (re: RegExp) =>
    saveOf(model)
      .split('\n')
      .find((l) => re.test(l)) ?? assert.fail(String(re));

  it('a kernel holding exactly what sync writes: no drift', async () => {
    assert.deepEqual(await drift(saveOf(model)), []);
  });

  it('the save text is read: an empty host reports every chain and jump, and every rule count', async () => {
    const out = await drift('');
    assert.ok(out.includes('firewall: chain NETCTL-FORWARD is missing'));
    assert.ok(out.includes('firewall: chain NETCTL-USER is missing'));
    assert.ok(out.includes('firewall: the jump from nat PREROUTING is missing'));
    assert.ok(out.includes('firewall: filter chain NETCTL-FORWARD rules of netctl:aaaaaaaaaaaa: 0 of 4'));
    assert.equal(out.length, 8 + 5 + 10, '8 chains, 5 jumps, 10 (table, chain, owner) counts');
  });

  it('a missing chain', async () => {
    assert.deepEqual(await drift(saveOf(model).replace(':NETCTL-ISOLATION-2 - [0:0]\n', '')), [
      'firewall: chain NETCTL-ISOLATION-2 is missing',
    ]);
  });

  it('a missing jump', async () => {
    assert.deepEqual(await drift(saveOf(model).replace(`${line(/^-A FORWARD /)}\n`, '')), [
      'firewall: the jump from filter FORWARD is missing',
    ]);
  });

  it('a missing rule', async () => {
    const gone = line(/^-A NETCTL-FORWARD -o br-db -j DROP /);
    assert.deepEqual(await drift(saveOf(model).replace(`${gone}\n`, '')), [
      'firewall: filter chain NETCTL-FORWARD rules of netctl:bbbbbbbbbbbb: 3 of 4',
    ]);
    const dnat = line(/^-A NETCTL -p tcp /);
    assert.deepEqual(await drift(saveOf(model).replace(`${dnat}\n`, '')), [
      'firewall: nat chain NETCTL rules of netctl:cccccccccccc: 0 of 1',
    ]);
  });

  it("a stale rule (an owner the model does not have), in iptables-save's quoted form", async () => {
    const stale = '-A NETCTL-ISOLATION-2 -o nc-dddddddddddd -m comment --comment "netctl:dddddddddddd" -j DROP';
    const save = saveOf(model).replace(`${line(/^-A NETCTL-ISOLATION-2 -o br-db /)}\n`, (l) => `${l}${stale}\n`);
    assert.deepEqual(await drift(save), ['firewall: 1 stale rule(s) filter NETCTL-ISOLATION-2 netctl:dddddddddddd']);
  });

  it('several differences at once are all reported', async () => {
    const save = saveOf(model)
      .replace(':NETCTL-PORTS - [0:0]\n', '')
      .replace(`${line(/^-A NETCTL-POSTROUTING -s 10\.1\.0\.0/)}\n`, '')
      .replace('COMMIT\n', '-A NETCTL-FORWARD -j ACCEPT -m comment --comment netctl:eeeeeeeeeeee\nCOMMIT\n');
    assert.deepEqual(await drift(save), [
      'firewall: chain NETCTL-PORTS is missing',
      'firewall: nat chain NETCTL-POSTROUTING rules of netctl:aaaaaaaaaaaa: 0 of 1',
      'firewall: 1 stale rule(s) filter NETCTL-FORWARD netctl:eeeeeeeeeeee',
    ]);
  });

  it('no networks: [] without reading the kernel', async () => {
    const runner = new FakeRunner('');
    assert.deepEqual(await new IptablesFirewall(runner).drift({ networks: [], ports: [port] }), []);
    assert.deepEqual(runner.calls, []);
  });
});
