// Applies the derived ruleset: one iptables-save to learn what exists (and which backend the
// host uses), one iptables-restore --noflush to write netctl's chains. Two processes whatever
// the number of rules.
import type { Runner } from '../kernel/runner.js';
import { SystemError } from '../lib/errors.js';
import { parsePresent, ruleset, type FwModel } from './rules.js';

export interface Firewall {
  sync(model: FwModel): Promise<void>;
}

export class IptablesFirewall implements Firewall {
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

  async sync(model: FwModel): Promise<void> {
    const present = parsePresent(await this.save());
    const text = ruleset(model, present);
    const r = await this.runner.run(`${this.prefix}-restore`, ['--noflush', '-w'], { input: text });
    if (r.exitCode !== 0) throw new SystemError(`${this.prefix}-restore: ${r.stderr.trim().split('\n').join('; ') || 'failed'}`);
  }
}
