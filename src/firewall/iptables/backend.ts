// The iptables backend: per address family, one iptables-save to learn what exists (and which
// backend the host uses), one iptables-restore --noflush to write netctl's chains. Two
// processes whatever the number of rules; ip6tables only runs while an IPv6 network exists
// (or its chains are left over from one).
import type { Runner } from '../../kernel/runner.js';
import { InvalidArgumentError, SystemError } from '../../lib/errors.js';
import { EGRESS_NEEDS_NFT, type Backend, type Family, type Firewall, type FwModel } from '../firewall.js';
import { checkModel, checkRestore } from './guard.js';
import {
  CHAINS,
  complete,
  diffRuleset,
  familyView,
  filterRules,
  jumps,
  natRules,
  parsePresent,
  removal,
  ruleset,
} from './rules.js';

/** One family's tool: iptables (4) or ip6tables (6). */
export class IptablesFirewall implements Firewall {
  readonly name = 'iptables';
  private prefix: string;

  constructor(
    private readonly runner: Runner,
    private readonly debug?: (m: string) => void,
    private readonly family: Family = 4,
  ) {
    this.prefix = family === 4 ? 'iptables' : 'ip6tables';
  }

  /** A save started by prefetch, for the next caller of save() alone: after it, rules may change. */
  private early: Promise<string> | null = null;

  prefetch(): void {
    if (this.early) return;
    this.early = this.read();
    this.early.catch(() => undefined); // its caller sees the failure; unclaimed, it is no error
  }

  save(): Promise<string> {
    const early = this.early;
    this.early = null;
    return early ?? this.read();
  }

  private async read(): Promise<string> {
    const r = await this.runner.run(`${this.prefix}-save`, []);
    if (r.exitCode !== 0) throw new SystemError(`${this.prefix}-save: ${r.stderr.trim() || 'failed'}`);
    // iptables-nft warns when the legacy backend holds rules: that is the one the host uses.
    if (!this.prefix.endsWith('-legacy') && /tables-legacy tables present/.test(r.stdout + r.stderr)) {
      this.prefix = `${this.prefix}-legacy`;
      this.debug?.(`${this.prefix}: the host uses the legacy backend`);
      return this.read();
    }
    return r.stdout;
  }

  /**
   * The difference from `prev` is applied when the chains are all there; null (or any failure
   * of that) rewrites netctl's chains.
   */
  /** Whether the last sync rewrote netctl's chains (not a difference). */
  rewrote = false;

  async sync(prev: FwModel | null, next: FwModel, whole?: () => FwModel): Promise<void> {
    const f = this.family;
    let view = familyView(next, f);
    checkModel(view, f);
    this.rewrote = false;
    const present = parsePresent(await this.save());
    if (prev && complete(present)) {
      const diff = diffRuleset(familyView(prev, f), view, f);
      if (diff === null) return;
      // Each -D searches its chain: past a few dozen, flushing and refilling is cheaper.
      const deletions = diff.split('\n').filter((l) => l.startsWith('-D ')).length;
      if (deletions > 64)
        this.debug?.(`${this.prefix}: ${deletions} rules to delete; rewriting netctl's chains instead`);
      else if ((await this.restore(diff)).exitCode === 0) return;
      else this.debug?.(`${this.prefix}: the rules differ from the store; rewriting netctl's chains`);
    }
    if (prev && whole) {
      view = familyView(whole(), f); // a rewrite writes every sandbox's rules, not just the changed ones
      checkModel(view, f);
    }
    const r = await this.restore(ruleset(view, present, f));
    if (r.exitCode !== 0)
      throw new SystemError(`${this.prefix}-restore: ${r.stderr.trim().split('\n').join('; ') || 'failed'}`);
    this.rewrote = true;
  }

  /**
   * Counts rules per (table, chain, owner) rather than comparing text: iptables-save prints
   * matches in its own canonical form, which need not be the text netctl wrote.
   */
  async drift(model: FwModel): Promise<string[]> {
    const f = this.family;
    const view = familyView(model, f);
    if (view.networks.length === 0) return [];
    const save = await this.save();
    const out: string[] = [];
    const pre = f === 4 ? 'firewall: ' : 'firewall: ip6tables ';
    const present = parsePresent(save);
    for (const ch of [...CHAINS.filter, ...CHAINS.nat, 'NETCTL-USER'])
      if (!present.chains.has(ch)) out.push(`${pre}chain ${ch} is missing`);
    for (const k of Object.keys(jumps(f))) if (!present.jumps.has(k)) out.push(`${pre}the jump from ${k} is missing`);
    let table = '';
    const actual: Array<[string, string]> = [];
    for (const line of save.split('\n')) {
      if (line.startsWith('*')) table = line.slice(1).trim();
      else if (line.startsWith('-A ')) actual.push([table, line]);
    }
    const want = tagCounts([
      ...filterRules(view, f).map((l): [string, string] => ['filter', l]),
      ...natRules(view, f).map((l): [string, string] => ['nat', l]),
    ]);
    const have = tagCounts(actual);
    for (const [k, n] of want)
      if ((have.get(k) ?? 0) !== n)
        out.push(
          `${pre}${k.replace(/ /, ' chain ').replace(/ (netctl:)/, ' rules of $1')}: ${have.get(k) ?? 0} of ${n}`,
        );
    for (const [k, n] of have) if (!want.has(k)) out.push(`${pre}${n} stale rule(s) ${k}`);
    return out;
  }

  /** netctl's chains this tool holds, as one line ([] when none). */
  async held(): Promise<string[]> {
    const chains = [...parsePresent(await this.save()).chains];
    return chains.length ? [`${this.prefix} chains ${chains.sort().join(', ')}`] : [];
  }

  async remove(): Promise<void> {
    const save = await this.save();
    const user = save.split('\n').filter((l) => l.startsWith('-A NETCTL-USER '));
    const text = removal(parsePresent(save), user.length === 1 && / -j RETURN/.test(user[0] ?? ''), this.family);
    if (text === null) return;
    const r = await this.restore(text);
    if (r.exitCode !== 0)
      throw new SystemError(`${this.prefix}-restore: ${r.stderr.trim().split('\n').join('; ') || 'failed'}`);
  }

  private restore(text: string) {
    return this.runner.run(`${this.prefix}-restore`, ['--noflush', '-w'], { input: checkRestore(text, this.family) });
  }
}

const hasIPv6 = (m: FwModel) => familyView(m, 6).networks.length > 0;

/** iptables for IPv4 and ip6tables for IPv6, written side by side. */
export class IptablesBackend implements Backend {
  readonly name = 'iptables';
  readonly v4: IptablesFirewall;
  readonly v6: IptablesFirewall;

  constructor(runner: Runner, debug?: (m: string) => void) {
    this.v4 = new IptablesFirewall(runner, debug, 4);
    this.v6 = new IptablesFirewall(runner, debug, 6);
  }

  get rewrote(): boolean {
    return this.v4.rewrote;
  }

  /** IPv4 only: ip6tables is read only while an IPv6 network exists, which is not known yet. */
  prefetch(): void {
    this.v4.prefetch();
  }

  async sync(prev: FwModel | null, next: FwModel, whole?: () => FwModel): Promise<void> {
    // The core refuses a policy first; this stops one the store has (a switch of backend) from passing unenforced.
    if (next.policies?.length) throw new InvalidArgumentError(EGRESS_NEEDS_NFT);
    const v6 = async () => {
      if (hasIPv6(next)) return this.v6.sync(prev, next, whole);
      // No IPv6 network (any more): ip6tables keeps nothing of netctl's, as before the first one.
      // Unknown prev: ip6tables is read only to clear what an earlier one left.
      if (prev === null ? (await this.v6.held().catch(() => [])).length > 0 : hasIPv6(prev)) await this.v6.remove();
    };
    await Promise.all([this.v4.sync(prev, next, whole), v6()]);
  }

  async drift(model: FwModel): Promise<string[]> {
    if (model.networks.length === 0) return [];
    const [a, b] = await Promise.all([this.v4.drift(model), this.v6.drift(model)]);
    return [...a, ...b];
  }

  async held(): Promise<string[]> {
    return [...(await this.v4.held()), ...(await this.v6.held())];
  }

  async remove(): Promise<void> {
    await this.v4.remove();
    await this.v6.remove();
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
