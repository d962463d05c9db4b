// Wires one command's collaborators: store under the root, one Runner, the controller.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Controller } from '../core/controller.js';
import { NameFiles } from '../core/names.js';
import { checkDefaultPools, type DefaultPool } from '../ipam/ipam.js';
import { makeFirewall, parseBackend, type BackendName } from '../firewall/index.js';
import { FaultRunner, parseFault } from '../kernel/fault.js';
import { ProcessRunner } from '../kernel/runner.js';
import { InvalidArgumentError } from '../lib/errors.js';
import { FileStore } from '../store/file.js';

export interface Io {
  out(s: string): void;
  err(s: string): void;
}

export interface Globals {
  root: string;
  debug: boolean;
}

interface Config {
  'default-address-pools'?: DefaultPool[];
  'firewall-backend'?: unknown;
}

/** `<root>/config.json`: { "default-address-pools": [{ "base": "10.10.0.0/16", "size": 24 }], "firewall-backend": "nftables" }. */
function loadConfig(root: string): { cfg: Config; file: string } {
  const file = join(root, 'config.json');
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch {
    return { cfg: {}, file };
  }
  let cfg: unknown;
  try {
    cfg = JSON.parse(text);
  } catch (e) {
    throw new InvalidArgumentError(`cannot parse ${file}: ${(e as Error).message}`);
  }
  if (!cfg || typeof cfg !== 'object' || Array.isArray(cfg)) throw new InvalidArgumentError(`cannot use ${file}: not a JSON object`);
  const out = { ...(cfg as Record<string, unknown>) } as Config;
  const pools = (cfg as Record<string, unknown>)['default-address-pools'];
  // Checked as --subnet is: a pool in 127.0.0.0/8 would put loopback addresses on a bridge.
  if (pools !== undefined) out['default-address-pools'] = checkDefaultPools(pools, file);
  return { cfg: out, file };
}

/** NETCTL_FIREWALL_BACKEND, else config.json's "firewall-backend", else makeFirewall's default. */
function chosenBackend(cfg: Config, file: string): BackendName | undefined {
  const env = process.env['NETCTL_FIREWALL_BACKEND'];
  if (env) return parseBackend(env, 'NETCTL_FIREWALL_BACKEND');
  return cfg['firewall-backend'] === undefined ? undefined : parseBackend(cfg['firewall-backend'], `${file} "firewall-backend"`);
}

export function makeController(g: Globals, io: Io): Controller {
  const debug = g.debug ? (l: string) => io.err(`debug: ${l}\n`) : undefined;
  const { cfg, file } = loadConfig(g.root);
  const pools = cfg['default-address-pools'];
  const fault = parseFault(process.env['NETCTL_FAULT']);
  const runner = fault ? new FaultRunner(new ProcessRunner(debug), fault) : new ProcessRunner(debug);
  return new Controller({
    store: new FileStore(g.root, { onWait: (pid) => io.err(`waiting for lock held by pid ${pid}\n`) }),
    runner,
    firewall: makeFirewall(runner, debug, chosenBackend(cfg, file)),
    names: new NameFiles('/etc/netns'),
    ...(debug ? { debug } : {}),
    ...(pools ? { defaultPools: pools } : {}),
    warn: (m) => io.err(`warning: ${m}\n`),
  });
}
