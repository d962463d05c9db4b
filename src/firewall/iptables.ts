// Applies the derived ruleset: one iptables-save to learn what exists (and which backend the
// host uses), one iptables-restore --noflush to write netctl's chains. Two processes whatever
// the number of rules.
import type { Runner } from '../kernel/runner.js';
import { SystemError } from '../lib/errors.js';
import { complete, diffRuleset, parsePresent, ruleset, type FwModel } from './rules.js';

export interface Firewall {
  /**
   * Makes the kernel hold `next`. `prev` is what the kernel is believed to hold: its difference
   * is applied when the chains are all there; null (or any failure of that) rewrites everything.
   */
  sync(prev: FwModel | null, next: FwModel): Promise<void>;
  /** The current rules, in iptables-save form (for doctor). */
  dump(): Promise<string>;
}

export class IptablesFirewall implements Firewall {
  private prefix: 'iptables' | 'iptables-legacy' = 'iptables';

  constructor(private readonly runner: Runner, private readonly debug?: (m: string) => void) {}

  dump(): Promise<string> {
    return this.save();
  }

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

  async sync(prev: FwModel | null, next: FwModel): Promise<void> {
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

  private restore(text: string) {
    return this.runner.run(`${this.prefix}-restore`, ['--noflush', '-w'], { input: text });
  }
}
