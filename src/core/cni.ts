// CNI attachments (docs/reference.md §12). A runtime's attachment (CNI_CONTAINERID, CNI_IFNAME) is an
// endpoint of a sandbox named after the container id, which adopts the runtime's netns: by its
// own name when it lives under NETNS_DIR, else under a name netctl binds there (removed with
// the sandbox). So every netctl command (inspect, doctor, restore, disconnect) sees it. The
// sandbox goes with its last attachment.
import { resolverAddresses } from '../dns/view.js';
import { createHash } from 'node:crypto';
import { existsSync, realpathSync } from 'node:fs';
import { basename, dirname } from 'node:path';
import { driverFor } from '../drivers/index.js';
import { KernelView } from '../kernel/ip.js';
import { netnsDel, sameInode } from '../kernel/ops.js';
import { linkName } from './containers.js';
import { nsIdentity } from './runtime.js';
import { ConflictError, InvalidArgumentError, KernelError, NotFoundError } from '../lib/errors.js';
import { electGateway } from '../model/gateway.js';
import {
  sandboxRecord,
  type EndpointRecord,
  type EndpointSettings,
  type KernelCmd,
  type NetworkRecord,
  type SandboxRecord,
} from '../model/records.js';
import type { ReadTxn, Txn } from '../store/store.js';
import { IFNAME_OPT, refuseHost, validateSettings } from './checks.js';
import type { Ctx } from './context.js';
import { dropEndpoints, planJoin, startResolverFor } from './plan.js';
import { endpointsOf, findNetwork, networkOf } from './lookup.js';
import { hostFirst } from '../engine/steps.js';
import { unreserve } from './reservations.js';
import { teardown } from '../engine/engine.js';
import { execute, touch, transaction } from './operation.js';

/** One attachment as the runtime names it; `netns` is CNI_NETNS (optional for DEL). */
export interface CniAttachment {
  containerId: string;
  ifName: string;
  netns?: string;
  network: string;
  /** CNI_ARGS (K8S_POD_NAMESPACE and K8S_POD_NAME name the sandbox). */
  args?: Record<string, string>;
  /** The configuration's dns.nameservers: the container's upstreams at netctl's resolver (as --dns). */
  dnsServers?: string[];
}

export interface CniAdded {
  ep: EndpointRecord;
  nw: NetworkRecord;
  /** This endpoint carries the sandbox's default route. */
  gateway: boolean;
}

const NAME_RE = /^[a-zA-Z0-9][a-zA-Z0-9_.-]*$/;

/**
 * The sandbox of a container id: `cni-<id>`; when that is over 64 characters (a 64-hex id),
 * `cni-<first 47>-<12 hex of sha256(id)>`, still unique and the same on every call.
 */
export function cniSandboxName(containerId: string): string {
  const plain = `cni-${containerId}`;
  if (plain.length <= 64) return plain;
  return `cni-${containerId.slice(0, 47)}-${createHash('sha256').update(containerId).digest('hex').slice(0, 12)}`;
}

/**
 * The sandbox name an attachment asks for: the pod's, `NAMESPACE.NAME` (or `NAME`) from
 * K8S_POD_NAMESPACE and K8S_POD_NAME (podman 4.3 passes the container's name), else the
 * container id's (cniSandboxName; ctr passes `NAMESPACE-ID`). A pod name that is no valid
 * sandbox name, or longer than 64 characters, falls back to the id's.
 */
export function cniWantedName(containerId: string, args: Record<string, string> = {}): string {
  const pod = args['K8S_POD_NAME'];
  const ns = args['K8S_POD_NAMESPACE'];
  const name = pod ? (ns ? `${ns}.${pod}` : pod) : '';
  return name && name.length <= 64 && NAME_RE.test(name) ? name : cniSandboxName(containerId);
}

/** The container's sandbox: under the name it asked for or the id's, else wherever a name clash put it. */
function sandboxOf(tx: ReadTxn, a: CniAttachment): SandboxRecord | undefined {
  const mine = (s: SandboxRecord) => s.cniContainerId === a.containerId;
  for (const name of new Set([cniWantedName(a.containerId, a.args), cniSandboxName(a.containerId)])) {
    const found = tx.find('sandboxes', 'name', name).find(mine);
    if (found) return found;
  }
  return tx.list('sandboxes').find(mine);
}

/**
 * How CNI_NETNS gets a name under NETNS_DIR: its own, or a symlink to it (`link`), which keeps
 * nothing alive: a runtime that never runs DEL (ctr) leaves an exited sandbox, not a namespace.
 */
function nameNetns(ctx: Ctx, path: string, name: string): { netns: string; link?: string } {
  if (!path.startsWith('/')) throw new InvalidArgumentError(`invalid CNI_NETNS ${path}: an absolute path`);
  if (!existsSync(path)) throw new NotFoundError(`netns ${path} does not exist`);
  refuseHost(path, `CNI_NETNS ${path}`);
  // A process's namespace link resolves to "net:[inode]", not a path: never under NETNS_DIR.
  const pid = /^\/proc\/(\d+)\/ns\/net$/.exec(path)?.[1];
  const real = pid ? '' : realpathSync(path);
  if (
    real &&
    existsSync(ctx.netnsDir) &&
    dirname(real) === realpathSync(ctx.netnsDir) &&
    NAME_RE.test(basename(real)) &&
    basename(real).length <= 64
  )
    return { netns: basename(real) };
  if (existsSync(`${ctx.netnsDir}/${name}`))
    throw new ConflictError(`netns ${name} already exists`, `remove the stale name: ip netns del ${name}`);
  return { netns: name, link: pid ? path : real };
}

/** ADD: adopts CNI_NETNS (first attachment of the container) and joins it to the network as CNI_IFNAME. */
export async function cniAdd(ctx: Ctx, a: CniAttachment, settings: EndpointSettings): Promise<CniAdded> {
  const wanted: EndpointSettings = { ...settings, DriverOpts: { ...settings.DriverOpts, [IFNAME_OPT]: a.ifName } };
  validateSettings(wanted);
  const path = a.netns ?? '';
  return transaction(ctx, async (tx) => {
    const nw = findNetwork(tx, a.network);
    if (!driverFor(nw.driver).plumbs)
      throw new InvalidArgumentError(
        `network ${nw.name} (driver ${nw.driver}) makes no interfaces: a CNI network needs a bridge or macvlan network`,
      );
    // A conflist naming the gateway names netctl's resolver: no upstream of its own.
    const upstreams = (a.dnsServers ?? []).filter((x) => !resolverAddresses(nw).includes(x));
    // A pod name another sandbox holds falls back to the container id's.
    let sb = sandboxOf(tx, a);
    // The container ran before and exited without a DEL (ctr): its sandbox goes, addresses and all.
    if (sb?.state === 'exited') {
      forget(tx, sb);
      sb = undefined;
    }
    const asked = cniWantedName(a.containerId, a.args);
    const name = tx.find('sandboxes', 'name', asked).length ? cniSandboxName(a.containerId) : asked;
    let named: ReturnType<typeof nameNetns> = { netns: '' };
    if (sb) {
      if (sb.state !== 'running')
        throw new ConflictError(
          `sandbox ${sb.name} of container ${a.containerId} is stopped`,
          `netctl sandbox start ${sb.name}, or DEL it`,
        );
      if (!sameInode(`${ctx.netnsDir}/${sb.netns}`, path)) {
        throw new ConflictError(
          `container ${a.containerId} is attached in another netns (${ctx.netnsDir}/${sb.netns})`,
          'DEL its attachments first',
        );
      }
      const mine = endpointsOf(tx, { sandbox: sb.id });
      const dup = mine.find((e) => e.ifName === a.ifName);
      if (dup)
        throw new ConflictError(
          `container ${a.containerId} already has interface ${a.ifName} (network ` +
            `${networkOf(tx)(dup.networkId)?.name ?? dup.networkId})`,
        );
      if (sb.networks[nw.id])
        throw new ConflictError(`container ${a.containerId} is already attached to network ${nw.name}`);
    } else {
      if (tx.find('sandboxes', 'name', name).length)
        throw new ConflictError(`container name ${name} is already in use by a sandbox not made by CNI`);
      named = nameNetns(ctx, path, name);
      sb = sandboxRecord(
        { id: ctx.id(), name, created: ctx.now().toISOString() },
        {
          netns: named.netns,
          cniContainerId: a.containerId,
          ...(named.link ? { ownsName: true } : {}),
          runtime: {
            ref: `netns:${path}`,
            kind: 'netns',
            id: path,
            ns: nsIdentity(path),
            target: named.link ?? path,
          },
          ...(upstreams.length ? { dns: { servers: upstreams, search: [], options: [] } } : {}),
        },
      );
    }
    const box = sb;
    touch(ctx, tx, box);
    startResolverFor(ctx, nw);
    const plan = planJoin(ctx, tx, box, nw, wanted);
    if (named.link) await linkName(ctx, tx, name, named.link);
    try {
      await execute(
        ctx,
        tx,
        `cni add ${a.containerId} ${a.ifName} to ${nw.name}`,
        hostFirst(plan.steps),
        () => {
          plan.commit();
          box.networks[nw.id] = { name: nw.name, settings: wanted };
          tx.put('sandboxes', box);
        },
        plan.firewall,
      );
    } catch (e) {
      if (e instanceof KernelError && e.fault === 'exists') {
        throw new ConflictError(`an interface ${a.ifName} already exists in netns ${path}`);
      }
      throw e;
    }
    return { ep: plan.ep, nw, gateway: electGateway(endpointsOf(tx, { sandbox: box.id }), networkOf(tx)) === plan.ep };
  });
}

/** Drops an exited sandbox's record and the addresses it kept (its devices went with its namespace). */
function forget(tx: Txn, sb: SandboxRecord): void {
  for (const id of Object.keys(sb.networks)) {
    const nw = tx.get('networks', id);
    if (nw && unreserve(nw, sb.id, true)) tx.put('networks', nw);
  }
  tx.delete('sandboxes', sb.id);
}

/** Removes attachments of CNI sandboxes; a sandbox left with none goes (its bound name too). */
function dropAttachments(
  ctx: Ctx,
  tx: Txn,
  victims: Array<{ sb: SandboxRecord; eps: EndpointRecord[]; ifNames: string[] }>,
): KernelCmd[] {
  const cmds: KernelCmd[] = [];
  for (const { sb, eps, ifNames } of victims) {
    const { cmds: leave, regateway } = dropEndpoints(ctx, tx, sb, eps);
    cmds.push(...leave);
    for (const [id, rec] of Object.entries(sb.networks)) {
      if (!ifNames.includes(rec.settings.DriverOpts?.[IFNAME_OPT] ?? '')) continue;
      delete sb.networks[id];
      // A stopped container's addresses are held for it: this attachment goes, so do they.
      const nw = tx.get('networks', id);
      if (nw && unreserve(nw, sb.id, true)) tx.put('networks', nw);
    }
    if (Object.keys(sb.networks).length === 0 && endpointsOf(tx, { sandbox: sb.id }).length === 0) {
      tx.delete('sandboxes', sb.id);
      // An exited sandbox's name went when its exit was noticed.
      if (sb.ownsName && sb.state !== 'exited') cmds.push({ args: netnsDel(sb.netns) });
    } else {
      tx.put('sandboxes', sb);
      cmds.push(...regateway.map((args) => ({ ns: sb.netns, args })));
    }
  }
  return cmds;
}

/** DEL: idempotent; a container, interface or netns already gone is success. Returns teardown errors. */
export async function cniDel(ctx: Ctx, a: CniAttachment): Promise<string[]> {
  return transaction(ctx, async (tx) => {
    const sb = sandboxOf(tx, a);
    if (!sb) return [];
    touch(ctx, tx, sb);
    const eps = endpointsOf(tx, { sandbox: sb.id }).filter((e) => e.ifName === a.ifName);
    const cmds = dropAttachments(ctx, tx, [{ sb, eps, ifNames: [a.ifName] }]);
    return teardown(ctx, tx, `cni del ${a.containerId} ${a.ifName}`, cmds, sb.ports.length > 0);
  });
}

/**
 * GC: removes every CNI attachment on the network that `valid` (containerId, ifname pairs)
 * does not name; netctl's own sandboxes on it are left alone. Returns teardown errors.
 */
export async function cniGc(
  ctx: Ctx,
  network: string,
  valid: Array<{ containerId: string; ifName: string }>,
): Promise<{ removed: string[]; errors: string[] }> {
  const keep = new Set(valid.map((v) => `${v.containerId}\n${v.ifName}`));
  return transaction(ctx, async (tx) => {
    let nw: NetworkRecord;
    try {
      nw = findNetwork(tx, network);
    } catch (e) {
      if (e instanceof NotFoundError) return { removed: [], errors: [] }; // nothing can be attached to it
      throw e;
    }
    const victims: Array<{ sb: SandboxRecord; eps: EndpointRecord[]; ifNames: string[] }> = [];
    const removed: string[] = [];
    for (const sb of tx.list('sandboxes')) {
      const id = sb.cniContainerId;
      const rec = sb.networks[nw.id];
      if (id === undefined || !rec) continue;
      const ifName = rec.settings.DriverOpts?.[IFNAME_OPT] ?? '';
      if (keep.has(`${id}\n${ifName}`)) continue;
      touch(ctx, tx, sb);
      victims.push({ sb, eps: endpointsOf(tx, { sandbox: sb.id, network: nw.id }), ifNames: [ifName] });
      removed.push(`${id}/${ifName}`);
    }
    const cmds = dropAttachments(ctx, tx, victims);
    const errors = await teardown(
      ctx,
      tx,
      `cni gc ${nw.name}`,
      cmds,
      victims.some((v) => v.sb.ports.length > 0),
    );
    return { removed, errors };
  });
}

/**
 * CHECK: the attachment's interface (MAC, up), addresses and, when it carries it, default
 * route inside its netns, and the driver's side; `expected` are the addresses the runtime's
 * prevResult lists for it. Throws what is wrong; changes nothing.
 */
export async function cniCheck(ctx: Ctx, a: CniAttachment, expected: string[]): Promise<void> {
  const tx = await ctx.store.view((t) => t);
  const sb = sandboxOf(tx, a);
  if (!sb) throw new NotFoundError(`container ${a.containerId} has no CNI attachments`);
  const eps = endpointsOf(tx, { sandbox: sb.id });
  const ep = eps.find((e) => e.ifName === a.ifName);
  const nw = ep && tx.get('networks', ep.networkId);
  if (!ep || !nw) throw new NotFoundError(`container ${a.containerId} has no interface ${a.ifName}`);
  if (nw.name !== a.network && nw.id !== a.network)
    throw new ConflictError(
      `interface ${a.ifName} of container ${a.containerId} is on network ${nw.name}, not ${a.network}`,
    );
  const where = `${ctx.netnsDir}/${sb.netns}`;
  if (!existsSync(where)) throw new NotFoundError(`netns ${where} of container ${a.containerId} is missing`);
  if (a.netns && !sameInode(where, a.netns))
    throw new ConflictError(`container ${a.containerId} is attached in ${where}, not ${a.netns}`);
  const kernel = new KernelView(ctx.runner);
  const link = (await kernel.links(sb.netns)).get(ep.ifName);
  if (!link) throw new NotFoundError(`interface ${ep.ifName} is missing in netns ${where}`);
  if (link.address !== ep.mac)
    throw new ConflictError(`interface ${ep.ifName} has MAC ${link.address ?? '?'}, not ${ep.mac}`);
  if (!(link.flags ?? []).includes('UP')) throw new ConflictError(`interface ${ep.ifName} is down`);
  const have = (await kernel.addrs(sb.netns)).get(ep.ifName) ?? [];
  const mine = [ep.ipv4, ep.ipv6].filter(Boolean);
  for (const want of mine)
    if (!have.includes(want)) throw new NotFoundError(`interface ${ep.ifName} lacks its address ${want}`);
  for (const want of expected)
    if (!mine.includes(want))
      throw new ConflictError(
        `address ${want} of the previous result is not the one of ${ep.ifName} (${mine.join(', ') || 'none'})`,
      );
  const drift = (await driverFor(nw.driver).checkEndpoint?.({ tx, kernel }, nw, ep, sb))?.drift ?? [];
  if (drift.length) throw new ConflictError(drift.join('; '));
  if (electGateway(eps, networkOf(tx)) !== ep) return;
  const routes = await kernel.routes(sb.netns);
  for (const gw of [ep.gateway4, ep.gateway6].filter(Boolean)) {
    if (!routes.some((r) => r.dst === 'default' && r.gateway === gw && r.dev === ep.ifName)) {
      throw new NotFoundError(`the default route via ${gw} dev ${ep.ifName} is missing`);
    }
  }
}

/** STATUS: the network exists, makes interfaces, and has an address left for one more ADD. */
export async function cniStatus(ctx: Ctx, network: string): Promise<void> {
  if (!(await ctx.store.exists())) throw new NotFoundError(`network ${network} not found (no netctl state yet)`);
  const tx = await ctx.store.view((t) => t);
  const nw = findNetwork(tx, network);
  if (!driverFor(nw.driver).plumbs)
    throw new InvalidArgumentError(`network ${nw.name} (driver ${nw.driver}) makes no interfaces`);
  // A join planned for a sandbox that does not exist allocates as ADD would, touching nothing.
  const probe = sandboxRecord({ id: '', name: 'cni-status', created: '' }, { hostname: '' });
  planJoin(ctx, tx, probe, nw, {});
}
