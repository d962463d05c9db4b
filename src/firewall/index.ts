// The one place that picks the firewall backend (docs/reference.md §11): config.json "firewall-backend" or
// NETCTL_FIREWALL_BACKEND (read by the CLI and passed in), else iptables when the `iptables`
// command exists, else nftables. The chosen backend also clears what the other one left: on
// a full rewrite (restore, first use) its rules are removed, and doctor reports them.
import type { Runner } from '../kernel/runner.js';
import type { Backend, Firewall, FwModel } from './firewall.js';
import { defaultBackend, type BackendName } from './choice.js';
import { IptablesBackend } from './iptables/backend.js';
import { NftablesFirewall } from './nftables/backend.js';

export { BACKENDS, defaultBackend, parseBackend, type BackendName } from './choice.js';

const make = (name: BackendName, runner: Runner, debug?: (m: string) => void): Backend =>
  name === 'iptables' ? new IptablesBackend(runner, debug) : new NftablesFirewall(runner, debug);

/** The chosen backend, which removes the other's rules when it rewrites everything. */
export class ChosenFirewall implements Firewall {
  private picked: { name: BackendName; chosen: Backend; other: () => Backend } | undefined;

  /** The choice is made when first needed: `ls` and `inspect` of a network without rules never look at PATH. */
  constructor(private readonly pick: () => { name: BackendName; chosen: Backend; other: () => Backend }) {}

  private get choice() {
    return (this.picked ??= this.pick());
  }

  get name(): BackendName {
    return this.choice.name;
  }
  get chosen(): Backend {
    return this.choice.chosen;
  }
  private get other(): () => Backend {
    return this.choice.other;
  }

  /**
   * The chosen backend first, so there is no moment without a firewall; then, if it had to
   * write everything (first use, `restore`, or its own rules missing — as after a switch), the
   * other backend's rules go: stale DNAT rules could point at an address handed out again.
   */
  async sync(prev: FwModel | null, next: FwModel, whole?: () => FwModel): Promise<void> {
    await this.chosen.sync(prev, next, whole);
    if (prev !== null && !this.chosen.rewrote) return;
    // The other backend's tool may be absent altogether: then it holds nothing.
    const other = this.other();
    if ((await other.held().catch(() => [])).length) await other.remove();
  }

  prefetch(): void {
    this.chosen.prefetch?.();
  }

  policyCounters(id12: string): Promise<Map<string, number> | null> {
    return this.chosen.policyCounters?.(id12) ?? Promise.resolve(null);
  }

  async drift(model: FwModel): Promise<string[]> {
    const held = await this.other()
      .held()
      .catch(() => []);
    return [...(await this.chosen.drift(model)), ...held.map((h) => `firewall: ${h} is left from the other backend`)];
  }
}

export function makeFirewall(runner: Runner, debug?: (m: string) => void, backend?: BackendName): ChosenFirewall {
  return new ChosenFirewall(() => {
    const name = backend ?? defaultBackend();
    const otherName: BackendName = name === 'iptables' ? 'nftables' : 'iptables';
    let other: Backend | undefined;
    return { name, chosen: make(name, runner, debug), other: () => (other ??= make(otherName, runner, debug)) };
  });
}
