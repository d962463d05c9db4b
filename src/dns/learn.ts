// Egress policy's name rules in the resolver (docs/reference.md §16, Cilium's FQDN model): when
// a sandbox with name rules gets an answer for a name one covers, the answered addresses go into
// that rule's nftables sets (timeout: the answer's TTL, at least 60 s) BEFORE the answer is
// released, so the connection that follows the lookup finds them. One `nft -f` per answer,
// through the Runner. An address the sandbox never resolved here stays out of the sets.
import type { Answer } from 'dns-packet';
import type { Runner } from '../kernel/runner.js';
import { parseIP } from '../lib/ip.js';
import type { DnsNameRule } from './protocol.js';

const SET = /^p_[0-9a-z]{12}_[0-9a-f]{6}[46]$/;
const MIN_TTL = 60;

const covers = (r: DnsNameRule, q: string): boolean => (r.wildcard ? q.endsWith(`.${r.name}`) : q === r.name);

/** The `nft -f` lines that let `answers` in for the rules covering `qname`; [] when none does. */
export function learnLines(rules: DnsNameRule[], qname: string, answers: Answer[]): string[] {
  const q = qname.toLowerCase().replace(/\.$/, '');
  const lines: string[] = [];
  for (const r of rules.filter((x) => covers(x, q))) {
    for (const a of answers) {
      if (a.type !== 'A' && a.type !== 'AAAA') continue;
      const ip = parseIP(String(a.data));
      const set = a.type === 'A' ? r.set4 : r.set6;
      if (!ip || ip.family !== (a.type === 'A' ? 4 : 6) || !SET.test(set)) continue;
      const ttl = Math.max(MIN_TTL, Math.min(Number(a.ttl ?? 0) || 0, 86400));
      const el = `inet netctl ${set} { ${String(a.data)} timeout ${ttl}s }`;
      // add, delete, add: a fresh timeout whether or not the address was there (add alone keeps the old one).
      lines.push(`add element ${el}`, `delete element inet netctl ${set} { ${String(a.data)} }`, `add element ${el}`);
    }
  }
  return lines;
}

export class Learner {
  constructor(
    private readonly runner: Runner,
    private readonly onError: (m: string) => void,
  ) {}

  /** Inserts what `learnLines` says; a failure is logged (the connection is then refused, the answer still goes). */
  async learn(rules: DnsNameRule[], qname: string, answers: Answer[]): Promise<void> {
    const lines = learnLines(rules, qname, answers);
    if (lines.length === 0) return;
    const r = await this.runner.run('nft', ['-f', '-'], { input: lines.join('\n') + '\n' });
    if (r.exitCode !== 0) this.onError(`policy sets for ${qname}: ${r.stderr.trim().split('\n')[0] ?? ''}`);
  }
}
