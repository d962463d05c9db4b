// The iptables backend: one iptables-save to learn what exists (and which backend the host
// uses), one iptables-restore --noflush to write netctl's chains. Two processes whatever the
// number of rules.
import type { Runner } from '../../kernel/runner.js';
import { SystemError } from '../../lib/errors.js';
import type { Firewall, FwModel } from '../firewall.js';
import { checkModel, checkRestore } from './guard.js';
import { CHAINS, JUMPS, complete, diffRuleset, filterRules, natRules, parsePresent, ruleset } from './rules.js';

export class IptablesFirewall implements Firewall {
  readonly name = 'iptables';
  private prefix: 'iptables' | 'iptables-legacy' = 'iptables';

  constructor(private readonly runner: Runner, private readonly debug?: (m: string) => void) {}

  private async save(): Promise<string> {
    const r = await this.runner.run(`${this.prefix}-save`, []);
    if (r.exitCode !== 0) throw new SystemError(`${this.prefix}-save: ${r.stderr.trim() || 'failed'}`);
    // iptables-nft warns when the legacy backend holds rules: that is the one the host uses.
    if (this.prefix === 'iptables' && /iptables-legacy tables present/.test(r.stdout + r.stderr)) {
      this.prefix = 'iptables-legacy';
      this.debug?.('iptables: the host uses the legacy backend');
      return this.save();
    }
    return r.stdout;
  }

  /**
   * The difference from `prev` is applied when the chains are all there; null (or any failure
   * of that) rewrites netctl's chains.
   */
  async sync(prev: FwModel | null, next: FwModel): Promise<void> {
    checkModel(next);
    const present = parsePresent(await this.save());
    if (prev && complete(present)) {
      const diff = diffRuleset(prev, next);
      if (diff === null) return;
      // Each -D searches its chain: past a few dozen, flushing and refilling is cheaper.
      const deletions = diff.split('\n').filter((l) => l.startsWith('-D ')).length;
      if (deletions > 64) this.debug?.(`iptables: ${deletions} rules to delete; rewriting netctl's chains instead`);
      else if ((await this.restore(diff)).exitCode === 0) return;
      else this.debug?.('iptables: the rules differ from the store; rewriting netctl\'s chains');
    }
    const r = await this.restore(ruleset(next, present));
    if (r.exitCode !== 0) throw new SystemError(`${this.prefix}-restore: ${r.stderr.trim().split('\n').join('; ') || 'failed'}`);
  }

  /**
   * Counts rules per (table, chain, owner) rather than comparing text: iptables-save prints
   * matches in its own canonical form, which need not be the text netctl wrote.
   */
  async drift(model: FwModel): Promise<string[]> {
    if (model.networks.length === 0) return [];
    const save = await this.save();
    const out: string[] = [];
    const present = parsePresent(save);
    for (const ch of [...CHAINS.filter, ...CHAINS.nat, 'NETCTL-USER']) if (!present.chains.has(ch)) out.push(`firewall: chain ${ch} is missing`);
    for (const k of Object.keys(JUMPS)) if (!present.jumps.has(k)) out.push(`firewall: the jump from ${k} is missing`);
    let table = '';
    const actual: Array<[string, string]> = [];
    for (const line of save.split('\n')) {
      if (line.startsWith('*')) table = line.slice(1).trim();
      else if (line.startsWith('-A ')) actual.push([table, line]);
    }
    const want = tagCounts([...filterRules(model).map((l): [string, string] => ['filter', l]), ...natRules(model).map((l): [string, string] => ['nat', l])]);
    const have = tagCounts(actual);
    for (const [k, n] of want) if ((have.get(k) ?? 0) !== n) out.push(`firewall: ${k.replace(/ /, ' chain ').replace(/ (netctl:)/, ' rules of $1')}: ${have.get(k) ?? 0} of ${n}`);
    for (const [k, n] of have) if (!want.has(k)) out.push(`firewall: ${n} stale rule(s) ${k}`);
    return out;
  }

  private restore(text: string) {
    return this.runner.run(`${this.prefix}-restore`, ['--noflush', '-w'], { input: checkRestore(text) });
  }
}

/** (table chain tag) -> number of rules, from our generated rules or from iptables-save. */
function tagCounts(lines: Array<[string, string]>): Map<string, number> {
  const out = new Map<string, number>();
  for (const [table, line] of lines) {
    const chain = line.split(' ')[1] ?? '';
    const tag = /--comment "?(netctl:[0-9a-z]+)"?/.exec(line)?.[1];
    if (!tag || tag === 'netctl:base') continue;
    const k = `${table} ${chain} ${tag}`;
    out.set(k, (out.get(k) ?? 0) + 1);
  }
  return out;
}
