// Wires one command's collaborators: the store under the root, one Runner, the firewall, the overlay scope, the
// controller.
import { existsSync, readFileSync } from 'node:fs';
import { readProc } from '../lib/procfs.js';
import { join } from 'node:path';
import { Controller } from '../core/controller.js';
import { NameFiles } from '../core/names.js';
import { ResolverClient } from '../dns/control.js';
import { checkDefaultPools, type DefaultPool } from '../ipam/ipam.js';
import { makeFirewall, parseBackend, type BackendName } from '../firewall/index.js';
import { FaultRunner, parseFault } from '../kernel/fault.js';
import { ProcessRunner } from '../kernel/runner.js';
import { InvalidArgumentError } from '../lib/errors.js';
import { FileStore } from '../store/file.js';
import { Cluster } from '../overlay/cluster.js';
import { connectEtcd } from '../overlay/etcd.js';
import { ClusterUnreachable } from '../overlay/store-errors.js';
import { parseClusterUrl, usesTls } from '../overlay/store-url.js';
import { GlobalScope } from '../overlay/scope.js';
import { keyValues, loadStoreAccess, parseStoreOpts, type StoreOpts } from '../overlay/store-opts.js';
import { ipJson } from '../kernel/ip.js';
import type { Runner } from '../kernel/runner.js';
import { parseIP } from '../lib/ip.js';
import { checkName } from '../lib/validate.js';
import { closeAtEnd } from '../lib/closers.js';

export interface Io {
  out(s: string): void;
  err(s: string): void;
}

export interface Globals {
  root: string;
  debug: boolean;
  clusterStore?: string;
  /** --cluster-store-opt k=v, as given. */
  clusterStoreOpts?: string[];
  advertiseAddr?: string;
}

interface Config {
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
function loadConfig(root: string): { cfg: Config; file: string } {
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
function chosenBackend(cfg: Config, file: string): BackendName | undefined {
  const env = process.env['NETCTL_FIREWALL_BACKEND'];
  if (env) return parseBackend(env, 'NETCTL_FIREWALL_BACKEND');
  return cfg['firewall-backend'] === undefined
    ? undefined
    : parseBackend(cfg['firewall-backend'], `${file} "firewall-backend"`);
}

/** --cluster-store, else NETCTL_CLUSTER_STORE (commander reads it), else config.json; and this host's identity. */
function clusterOf(g: Globals, cfg: Config, file: string, runner: Runner): (() => Promise<Cluster>) | undefined {
  const str = (v: unknown, what: string): string | undefined => {
    if (v === undefined) return undefined;
    if (typeof v !== 'string' || !v) throw new InvalidArgumentError(`cannot use ${file}: "${what}" must be a string`);
    return v;
  };
  const url = g.clusterStore ?? str(cfg['cluster-store'], 'cluster-store');
  if (!url) return undefined;
  const endpoints = parseClusterUrl(url);
  const advertise = g.advertiseAddr ?? str(cfg['advertise-addr'], 'advertise-addr');
  if (advertise !== undefined && !parseIP(advertise))
    throw new InvalidArgumentError(`invalid advertise address ${JSON.stringify(advertise)}: an IP address`);
  const name = process.env['NETCTL_NODE_NAME'] || str(cfg['node-name'], 'node-name') || hostname();
  checkName('node', name);
  const opts = storeOpts(g, cfg, file);
  let open: Promise<Cluster> | undefined;
  return () =>
    (open ??= (async () => {
      const addr = advertise ?? (await sourceAddress(runner, url, endpoints[0] ?? ''));
      // Every host would claim the same tunnel address: no peer would ever be remote.
      if (/^127\.|^169\.254\.|^::1$|^fe[89ab]/i.test(addr)) {
        throw new InvalidArgumentError(
          `advertise address ${addr} is a loopback or link-local address`,
          "set --advertise-addr (or NETCTL_ADVERTISE_ADDR) to this host's address on the network between the hosts",
        );
      }
      const c = new Cluster(
        url,
        { name, addr },
        connectEtcd(url, endpoints, { access: loadStoreAccess(opts, usesTls(url)) }),
      );
      closeAtEnd(() => c.close());
      return c;
    })());
}

/** The cluster store's options: --cluster-store-opt over NETCTL_CLUSTER_STORE_OPTS over config.json, one by one. */
function storeOpts(g: Globals, cfg: Config, file: string): StoreOpts {
  const inFile = cfg['cluster-store-opts'];
  if (inFile !== undefined && (typeof inFile !== 'object' || inFile === null || Array.isArray(inFile))) {
    throw new InvalidArgumentError(`cannot use ${file}: "cluster-store-opts" must be an object`);
  }
  const env = process.env['NETCTL_CLUSTER_STORE_OPTS'];
  return {
    ...parseStoreOpts(Object.entries(inFile ?? {}), `${file} "cluster-store-opts"`),
    ...parseStoreOpts(keyValues(env ? env.split(',') : []), 'NETCTL_CLUSTER_STORE_OPTS'),
    ...parseStoreOpts(keyValues(g.clusterStoreOpts ?? []), '--cluster-store-opt'),
  };
}

/** The address this host reaches the first etcd endpoint from (`ip route get`): the default advertise address. */
async function sourceAddress(runner: Runner, url: string, endpoint: string): Promise<string> {
  const hostPart = endpoint.replace(/:\d+$/, '').replace(/^\[|\]$/g, '');
  const ip = parseIP(hostPart)
    ? hostPart
    : (await (await import('node:dns/promises')).lookup(hostPart).catch(() => ({ address: '' }))).address;
  if (!ip) throw new ClusterUnreachable(url);
  const routes = await ipJson<Array<{ prefsrc?: string }>>(runner, undefined, ['route', 'get', ip]).catch(() => []);
  const src = routes[0]?.prefsrc;
  if (!src) throw new InvalidArgumentError(`no route to the cluster store ${url}: set --advertise-addr`);
  return src;
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
    // Networks of global scope (overlays), with the cluster store when one is configured.
    scope: new GlobalScope(clusterOf(g, cfg, file, runner)),
    names: new NameFiles('/etc/netns'),
    resolver: new ResolverClient(g.root, runner, (m) => io.err(`warning: ${m}\n`)),
    ...(debug ? { debug } : {}),
    ...(pools ? { defaultPools: pools } : {}),
    warn: (m) => io.err(`warning: ${m}\n`),
  });
}

/** gethostname(2) as the kernel keeps it for this UTS namespace; node:os would load for this alone. */
function hostname(): string {
  return readProc('/proc/sys/kernel/hostname').trim();
}
