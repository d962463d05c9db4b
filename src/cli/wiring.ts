// Wires one command's collaborators: the store under the root, one Runner, the firewall, the overlay scope, the
// controller.
import { readProc } from '../lib/procfs.js';
import { Controller } from '../core/controller.js';
import { NameFiles } from '../core/names.js';
import { ResolverClient, served } from '../dns/control.js';
import { makeFirewall } from '../firewall/index.js';
import { chosenBackend, loadConfig, type Config } from './config.js';
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
import { hasPrivilege } from '../lib/privilege.js';
import { clusterNow, hasCluster, mergedNetworks } from '../overlay/global.js';
import type { Reads } from './reads.js';

import type { Io } from './io.js';

export type { Io };

export interface Globals {
  root: string;
  debug: boolean;
  clusterStore?: string;
  /** --cluster-store-opt k=v, as given. */
  clusterStoreOpts?: string[];
  advertiseAddr?: string;
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

/** What `ls` and `inspect` read (cli/reads.ts), through the controller: the cluster's networks included. */
export function commandReads(g: Globals, io: Io): Reads {
  const ctl = makeController(g, io);
  const { ctx } = ctl;
  return {
    view: (fn, canInit) => ctl.view(fn, canInit),
    get firewallName() {
      return ctl.firewallName;
    },
    served: () => served(g.root),
    canInit: hasPrivilege(),
    ...(hasCluster(ctx)
      ? {
          cluster: async () => {
            const now = await clusterNow(ctx);
            return now && { merged: (tx) => mergedNetworks(tx, now.snap), ...now.snap };
          },
        }
      : {}),
  };
}
