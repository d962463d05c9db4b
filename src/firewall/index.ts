// The one place that picks the firewall backend (SPEC §11): config.json "firewall-backend" or
// NETCTL_FIREWALL_BACKEND (read by the CLI and passed in), else iptables when the `iptables`
// command exists, else nftables. The chosen backend also clears what the other one left: on
// a full rewrite (restore, first use) its rules are removed, and doctor reports them.
import { accessSync, constants } from 'node:fs';
import { join } from 'node:path';
import type { Runner } from '../kernel/runner.js';
import { InvalidArgumentError } from '../lib/errors.js';
import type { Backend, Firewall, FwModel } from './firewall.js';
import { IptablesBackend } from './iptables/backend.js';
import { NftablesFirewall } from './nftables/backend.js';

export type BackendName = 'iptables' | 'nftables';
export const BACKENDS: readonly BackendName[] = ['iptables', 'nftables'];

/** Checks a configured backend name; `where` names its source for the message. */
export function parseBackend(v: unknown, where: string): BackendName {
  if (v === 'iptables' || v === 'nftables') return v;
  throw new InvalidArgumentError(`invalid firewall backend ${JSON.stringify(v)} in ${where}: iptables or nftables`);
}

function onPath(cmd: string): boolean {
  for (const dir of (process.env['PATH'] ?? '').split(':').filter(Boolean)) {
    try {
      accessSync(join(dir, cmd), constants.X_OK);
      return true;
    } catch { /* next */ }
  }
  return false;
}

export const defaultBackend = (): BackendName => (onPath('iptables') ? 'iptables' : 'nftables');

const make = (name: BackendName, runner: Runner, debug?: (m: string) => void): Backend =>
  name === 'iptables' ? new IptablesBackend(runner, debug) : new NftablesFirewall(runner, debug);

/** The chosen backend, which removes the other's rules when it rewrites everything. */
export class ChosenFirewall implements Firewall {
  readonly name: BackendName;

  constructor(readonly chosen: Backend, private readonly other: () => Backend) {
    this.name = chosen.name as BackendName;
  }

  async sync(prev: FwModel | null, next: FwModel): Promise<void> {
    if (prev === null) {
      // The other backend's tool may be absent altogether: then it holds nothing.
      const other = this.other();
      if ((await other.held().catch(() => [])).length) await other.remove();
    }
    await this.chosen.sync(prev, next);
  }

  async drift(model: FwModel): Promise<string[]> {
    const held = await this.other().held().catch(() => []);
    return [...(await this.chosen.drift(model)), ...held.map((h) => `firewall: ${h} is left from the other backend`)];
  }
}

export function makeFirewall(runner: Runner, debug?: (m: string) => void, backend: BackendName = defaultBackend()): ChosenFirewall {
  const otherName: BackendName = backend === 'iptables' ? 'nftables' : 'iptables';
  let other: Backend | undefined;
  return new ChosenFirewall(make(backend, runner, debug), () => (other ??= make(otherName, runner, debug)));
}
