// The text guards by property (issue 18): whatever names and values reach `ip -batch` or
// iptables-restore, either the guard refuses them before anything runs, or the text has
// exactly the lines and words netctl meant: no newline, second command, comment or rule smuggled.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { NetctlError, SystemError } from '../../src/lib/errors.js';
import { ipBatch, ipCleanup } from '../../src/kernel/ip.js';
import { addrAdd, bridgeAdd, linkMaster, linkUp, netnsAdd, vethAdd } from '../../src/kernel/ops.js';
import type { RunOptions, RunResult, Runner } from '../../src/kernel/runner.js';
import { checkModel, checkRestore } from '../../src/firewall/iptables/guard.js';
import { diffRuleset, ruleset } from '../../src/firewall/iptables/rules.js';
import type { FwModel } from '../../src/firewall/firewall.js';
import { check, checkAsync, fromVocab } from '../helpers/prop.js';

const HOSTILE = [
  'a',
  'eth0',
  'br-1',
  'x.y',
  ' ',
  '\n',
  '\r',
  '\t',
  '#',
  '"',
  "'",
  '\\',
  ';',
  'link del eth0',
  '-j',
  'ACCEPT',
  '-A',
  'INPUT',
  '\u2028',
  '\u0085',
  '\u00a0',
  '\x00',
  'é',
  '10.0.0.1/24',
  '-',
];
const word = fromVocab(HOSTILE, 6);

class Recorder implements Runner {
  calls: Array<{ file: string; args: string[]; input?: string }> = [];
  async run(file: string, args: string[], opts?: RunOptions): Promise<RunResult> {
    this.calls.push({ file, args, ...(typeof opts?.input === 'string' ? { input: opts.input } : {}) });
    return { exitCode: 0, stdout: '', stderr: '' } as RunResult;
  }
  async sysctl(): Promise<boolean> {
    return false;
  }
}

/** ip's batch reader splits a line on blanks (and honours quotes, backslashes, '#'): the words it will see. */
const ipWords = (line: string) => line.split(/[ \t]+/).filter(Boolean);

describe('ip -batch guard by property', () => {
  it('each command is one line of exactly its arguments, or nothing runs', async () => {
    const cmd = fc.oneof(
      word.map((n) => linkUp(n)),
      fc.tuple(word, word).map(([a, b]) => linkMaster(a, b)),
      word.map((n) => netnsAdd(n)),
      fc.tuple(word, word).map(([c, d]) => addrAdd(c, d)),
      fc.tuple(word, word, word).map(([n, m, t]) => bridgeAdd(n, m, t)),
      fc.tuple(word, word, word, word).map(([h, p, m, ns]) => vethAdd(h, p, m, ns)),
    );
    await checkAsync(
      fc.asyncProperty(
        fc.option(word, { nil: undefined }),
        fc.array(cmd, { minLength: 1, maxLength: 4 }),
        async (ns, cmds) => {
          const r = new Recorder();
          try {
            await ipBatch(r, ns || undefined, cmds);
          } catch (e) {
            assert.ok(e instanceof SystemError, String(e));
            assert.equal(r.calls.length, 0, 'refused before running');
            return;
          }
          const call = r.calls[0];
          assert.ok(call && r.calls.length === 1);
          if (cmds.length === 1) return; // argv, no text to parse
          const lines = (call.input ?? '').split('\n');
          assert.equal(lines.pop(), '');
          assert.equal(lines.length, cmds.length, 'one line per command');
          lines.forEach((l, i) => {
            // ip reads bytes: ASCII blanks split, quotes, backslash and # are syntax, a NUL ends the line.
            assert.ok(!/["'\\#\x00-\x1f\x7f]/.test(l), `no character ip would interpret: ${JSON.stringify(l)}`);
            assert.deepEqual(ipWords(l), cmds[i]);
          });
        },
      ),
      3000,
    );
  });

  it('ipCleanup: the same for teardown commands', async () => {
    await checkAsync(
      fc.asyncProperty(
        fc.array(fc.tuple(word, fc.option(word, { nil: undefined })), { minLength: 1, maxLength: 4 }),
        async (cmds) => {
          const r = new Recorder();
          try {
            await ipCleanup(
              r,
              cmds.map(([dev, ns]) => ({ args: ['link', 'del', dev], ...(ns ? { ns } : {}) })),
            );
          } catch (e) {
            assert.ok(e instanceof NetctlError, String(e));
            assert.equal(r.calls.length, 0);
            return;
          }
          // Deletions may be grouped (link set DEV group N; link del group N): every word is a device given
          // or that syntax.
          const devs = new Set(cmds.map(([d]) => d));
          for (const c of r.calls) {
            for (const l of (c.input ?? '').split('\n').filter(Boolean)) {
              assert.ok(!/["'\\#\x00-\x1f\x7f]/.test(l), JSON.stringify(l));
              for (const w of ipWords(l))
                assert.ok(devs.has(w) || /^(link|set|del|group|\d+)$/.test(w), JSON.stringify(l));
            }
          }
        },
      ),
      2000,
    );
  });
});

describe('iptables-restore guard by property', () => {
  const str = fromVocab([...HOSTILE, 'abc123', 'netctl0', '10.1.0.0/24', '10.1.0.2', '0.0.0.0', 'fd00::/64'], 5);
  const model = fc.record({
    networks: fc.array(
      fc.record({
        id12: str,
        bridge: str,
        subnets: fc.array(str, { maxLength: 2 }),
        internal: fc.boolean(),
        icc: fc.boolean(),
        masquerade: fc.boolean(),
      }),
      { maxLength: 3 },
    ),
    ports: fc.array(
      fc.record({
        id12: str,
        bridge: str,
        containerIP: str,
        proto: fc.constantFrom('tcp', 'udp', 'tcp\n-A INPUT -j ACCEPT', 'icmp'),
        hostIP: str,
        hostPort: fc.oneof(fc.integer({ min: -1, max: 70000 }), fc.double()),
        containerPort: fc.integer({ min: 0, max: 70000 }),
      }),
      { maxLength: 3 },
    ),
  }) as fc.Arbitrary<FwModel>;
  /** The same model with every string replaced by a plain value of its kind: the shape the text must keep. */
  const plain = (m: FwModel): FwModel => ({
    networks: m.networks.map((n) => ({ ...n, id12: 'a', bridge: 'b', subnets: n.subnets.map(() => '10.0.0.0/8') })),
    ports: m.ports.map((p) => ({
      ...p,
      id12: 'a',
      bridge: 'b',
      containerIP: '10.0.0.2',
      hostIP: p.hostIP ? '10.0.0.1' : '',
    })),
  });
  const shape = (t: string) => t.split('\n').map((l) => l.split(' ').length);

  it('a model that passes checkModel writes text checkRestore accepts, of the shape of a plain model', () => {
    const present = { userChain: false, jumps: new Set<string>(), chains: new Set<string>() };
    check(
      fc.property(model, (m) => {
        try {
          checkModel(m);
        } catch (e) {
          assert.ok(e instanceof SystemError, String(e));
          return;
        }
        const text = ruleset(m, present);
        assert.equal(checkRestore(text), text);
        assert.deepEqual(shape(text), shape(ruleset(plain(m), present)));
        const diff = diffRuleset({ networks: [], ports: [] }, m);
        if (diff) {
          assert.equal(checkRestore(diff), diff);
          assert.deepEqual(shape(diff), shape(diffRuleset({ networks: [], ports: [] }, plain(m)) ?? ''));
        }
      }),
      3000,
    );
  });

  it('checkRestore accepts only headers, COMMIT, netctl chains and the fixed jumps', () => {
    const netctlLine = new RegExp(
      [
        '^(',
        [
          String.raw`:NETCTL[A-Z0-9-]* - \[0:0\]`,
          String.raw`-[AD] NETCTL\S* .*`,
          '-I (FORWARD|PREROUTING|OUTPUT|POSTROUTING) 1 .*netctl:base',
        ].join('|'),
        ')$',
      ].join(''),
    );
    const line = fc.oneof(
      fc.constantFrom(
        '*filter',
        '*nat',
        'COMMIT',
        ':NETCTL-X - [0:0]',
        ':INPUT ACCEPT [0:0]',
        '-A NETCTL-FORWARD -j ACCEPT',
        '-A INPUT -j ACCEPT',
        '-F',
        '-P FORWARD ACCEPT',
        '-X NETCTL',
        '-I FORWARD 1 -j NETCTL-FORWARD -m comment --comment netctl:base',
        '-I INPUT 1 -j ACCEPT',
        '# c',
        '',
      ),
      str,
    );
    check(
      fc.property(fc.array(line, { maxLength: 8 }), (lines) => {
        const text = lines.join('\n') + '\n';
        try {
          checkRestore(text);
        } catch (e) {
          assert.ok(e instanceof SystemError);
          return;
        }
        let table = '';
        for (const l of text.split('\n').slice(0, -1)) {
          if (l === '*filter' || l === '*nat') {
            table = l;
            continue;
          }
          if (l === 'COMMIT') {
            table = '';
            continue;
          }
          assert.ok(table, `outside a table: ${JSON.stringify(l)}`);
          assert.ok(netctlLine.test(l), JSON.stringify(l));
          assert.ok(!/["'\\#]/.test(l) && !/[^\x21-\x7e ]/.test(l), JSON.stringify(l));
        }
      }),
      3000,
    );
  });
});
