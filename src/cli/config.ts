// <root>/config.json, and the firewall backend it (or NETCTL_FIREWALL_BACKEND) names: read by
// every command that wires the controller and by the quick read path (quick.ts).
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseBackend, type BackendName } from '../firewall/choice.js';
import { checkDefaultPools, type DefaultPool } from '../ipam/ipam.js';
import { InvalidArgumentError } from '../lib/errors.js';

export interface Config {
  'default-address-pools'?: DefaultPool[];
  'firewall-backend'?: unknown;
  'cluster-store'?: unknown;
  'cluster-store-opts'?: unknown;
  'advertise-addr'?: unknown;
  'node-name'?: unknown;
}

/**
 * `<root>/config.json`: { "default-address-pools": [{ "base": "10.10.0.0/16", "size": 24 }], "firewall-backend":
 * "nftables" }.
 */
export function loadConfig(root: string): { cfg: Config; file: string } {
  const file = join(root, 'config.json');
  if (!existsSync(file)) return { cfg: {}, file }; // the usual case: no ENOENT made and thrown (~0.2 ms cold)
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    // Not root's to read for a user's read-only command (ls, inspect): the defaults serve it.
    if (code === 'EACCES') return { cfg: {}, file };
    throw new InvalidArgumentError(`cannot read ${file}: ${code ?? (e as Error).message}`);
  }
  let cfg: unknown;
  try {
    cfg = JSON.parse(text);
  } catch (e) {
    throw new InvalidArgumentError(`cannot parse ${file}: ${(e as Error).message}`);
  }
  if (!cfg || typeof cfg !== 'object' || Array.isArray(cfg))
    throw new InvalidArgumentError(`cannot use ${file}: not a JSON object`);
  const out = { ...(cfg as Record<string, unknown>) } as Config;
  const pools = (cfg as Record<string, unknown>)['default-address-pools'];
  // Checked as --subnet is: a pool in 127.0.0.0/8 would put loopback addresses on a bridge.
  if (pools !== undefined) out['default-address-pools'] = checkDefaultPools(pools, file);
  return { cfg: out, file };
}

/** NETCTL_FIREWALL_BACKEND, else config.json's "firewall-backend", else makeFirewall's default. */
export function chosenBackend(cfg: Config, file: string): BackendName | undefined {
  const env = process.env['NETCTL_FIREWALL_BACKEND'];
  if (env) return parseBackend(env, 'NETCTL_FIREWALL_BACKEND');
  return cfg['firewall-backend'] === undefined
    ? undefined
    : parseBackend(cfg['firewall-backend'], `${file} "firewall-backend"`);
}
