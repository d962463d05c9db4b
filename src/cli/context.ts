// Wires one command's collaborators: store under the root, one Runner, the controller.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Controller } from '../core/controller.js';
import { NameFiles } from '../core/names.js';
import { checkDefaultPools, type DefaultPool } from '../ipam/ipam.js';
import { makeFirewall } from '../firewall/index.js';
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

/** `<root>/config.json`: { "default-address-pools": [{ "base": "10.10.0.0/16", "size": 24 }] }. */
function loadPools(root: string): DefaultPool[] | undefined {
  const file = join(root, 'config.json');
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch {
    return undefined;
  }
  let cfg: unknown;
  try {
    cfg = JSON.parse(text);
  } catch (e) {
    throw new InvalidArgumentError(`cannot parse ${file}: ${(e as Error).message}`);
  }
  const pools = cfg && typeof cfg === 'object' ? (cfg as Record<string, unknown>)['default-address-pools'] : undefined;
  // Checked as --subnet is: a pool in 127.0.0.0/8 would put loopback addresses on a bridge.
  return pools === undefined ? undefined : checkDefaultPools(pools, file);
}

export function makeController(g: Globals, io: Io): Controller {
  const debug = g.debug ? (l: string) => io.err(`debug: ${l}\n`) : undefined;
  const pools = loadPools(g.root);
  const fault = parseFault(process.env['NETCTL_FAULT']);
  const runner = fault ? new FaultRunner(new ProcessRunner(debug), fault) : new ProcessRunner(debug);
  return new Controller({
    store: new FileStore(g.root, { onWait: (pid) => io.err(`waiting for lock held by pid ${pid}\n`) }),
    runner,
    firewall: makeFirewall(runner, debug),
    names: new NameFiles('/etc/netns'),
    ...(debug ? { debug } : {}),
    ...(pools ? { defaultPools: pools } : {}),
    warn: (m) => io.err(`warning: ${m}\n`),
  });
}
