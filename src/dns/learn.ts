// Egress policy's name rules in the resolver (docs/reference.md §16, Cilium's FQDN model): when
// a sandbox with name rules gets an answer for a name one covers, the answered addresses go into
// that rule's nftables sets (timeout: the answer's TTL, at least 60 s, plus a little slack)
// BEFORE the answer is released, so the connection that follows the lookup finds them. An
// address the sandbox never resolved here stays out of the sets.
// Cost: one `nft -f` of `add element` lines (~4 ms with its spawn). Never a `delete` (it makes
// the kernel's commit wait ~13 ms): an `add` of an element already there renews its timeout on
// Linux 6.10 and later. Answers that come while one nft runs go together in the next one, and
// an address inserted in the last few seconds is not inserted again.
import type { Answer } from 'dns-packet';
import type { Runner } from '../kernel/runner.js';
import { parseIP } from '../lib/ip.js';
import type { DnsNameRule } from './protocol.js';

const SET = /^p_[0-9a-z]{12}_[0-9a-f]{6}[46]$/;
const MIN_TTL = 60;
/** Seconds added to every timeout, and how long an insert stands without being renewed. */
const SLACK = 10;

const covers = (r: DnsNameRule, q: string): boolean => (r.wildcard ? q.endsWith(`.${r.name}`) : q === r.name);

/** The elements that let `answers` in for the rules covering `qname`: `SET { ADDR timeout Ns }`. */
export function learnElements(rules: DnsNameRule[], qname: string, answers: Answer[]): string[] {
  const q = qname.toLowerCase().replace(/\.$/, '');
  const out: string[] = [];
  for (const r of rules.filter((x) => covers(x, q))) {
    for (const a of answers) {
      if (a.type !== 'A' && a.type !== 'AAAA') continue;
      const ip = parseIP(String(a.data));
      const set = a.type === 'A' ? r.set4 : r.set6;
      if (!ip || ip.family !== (a.type === 'A' ? 4 : 6) || !SET.test(set)) continue;
      const ttl = Math.max(MIN_TTL, Math.min(Number(a.ttl ?? 0) || 0, 86400)) + SLACK;
      out.push(`${set} { ${String(a.data)} timeout ${ttl}s }`);
    }
  }
  return out;
}

export class Learner {
  /** `SET { ADDR` → when it was inserted (ms), to skip inserting it again within SLACK. */
  private readonly recent = new Map<string, number>();
  private running = false;
  private waiting: Array<{ elements: string[]; done: () => void }> = [];

  constructor(
    private readonly runner: Runner,
    private readonly onError: (m: string) => void,
  ) {}

  /** A new view (a policy changed: sets may be new or gone): nothing counts as inserted any more. */
  forget(): void {
    this.recent.clear();
  }

  /** Inserts the answer's addresses; resolves once they are in (a failure is logged: the connection is refused). */
  learn(rules: DnsNameRule[], qname: string, answers: Answer[]): Promise<void> {
    const now = Date.now();
    if (this.recent.size > 50_000) this.recent.clear(); // bounded: only a hint to skip work
    const elements = learnElements(rules, qname, answers).filter((e) => {
      const key = e.slice(0, e.indexOf(' timeout'));
      return now - (this.recent.get(key) ?? -Infinity) > SLACK * 1000;
    });
    if (elements.length === 0) return Promise.resolve();
    return new Promise((done) => {
      this.waiting.push({ elements, done });
      if (!this.running) void this.drain();
    });
  }

  private async drain(): Promise<void> {
    this.running = true;
    while (this.waiting.length) {
      const batch = this.waiting.splice(0);
      const elements = [...new Set(batch.flatMap((b) => b.elements))];
      const script = elements.map((e) => `add element inet netctl ${e}`).join('\n') + '\n';
      const r = await this.runner.run('nft', ['-f', '-'], { input: script }).catch((e: Error) => ({
        exitCode: 1,
        stderr: e.message,
      }));
      if (r.exitCode !== 0) this.onError(`policy sets: ${r.stderr.trim().split('\n')[0] ?? ''}`);
      else for (const e of elements) this.recent.set(e.slice(0, e.indexOf(' timeout')), Date.now());
      batch.forEach((b) => b.done());
    }
    this.running = false;
  }
}
