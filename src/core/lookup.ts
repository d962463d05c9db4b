// Resolving what users type to records, as Docker does: exact full ID, then exact name, then a
// unique ID prefix. Pure reads of a transaction; the CLI's read-only commands use them too.
import { ConflictError, NotFoundError } from '../lib/errors.js';
import { sharesNetns, type EndpointRecord, type NetworkRecord, type SandboxRecord } from '../model/records.js';
import type { ReadTxn } from '../store/store.js';
import { findByRuntime, parseRuntimeRef } from './runtime.js';

/** By id, name (both indexed: no other record parsed) or unique id prefix, as Docker resolves them. */
export function findNetwork(tx: ReadTxn, ref: string): NetworkRecord {
  const exact = tx.get('networks', ref) ?? tx.find('networks', 'name', ref)[0];
  if (exact) return exact;
  if (/^[0-9a-f]+$/.test(ref)) {
    const hits = tx.ids('networks').filter((id) => id.startsWith(ref));
    const one = hits.length === 1 ? tx.get('networks', hits[0] ?? '') : undefined;
    if (one) return one;
    if (hits.length > 1) throw new NotFoundError(`network ${ref} is ambiguous (${hits.length} matches)`);
  }
  throw new NotFoundError(`network ${ref} not found`);
}

/** The same resolution over a given list (local networks and the cluster's global ones). */
export function findNetworkIn(all: NetworkRecord[], ref: string): NetworkRecord {
  const exact = all.find((n) => n.id === ref) ?? all.find((n) => n.name === ref);
  if (exact) return exact;
  if (/^[0-9a-f]+$/.test(ref)) {
    const hits = all.filter((n) => n.id.startsWith(ref));
    if (hits.length === 1 && hits[0]) return hits[0];
    if (hits.length > 1) throw new NotFoundError(`network ${ref} is ambiguous (${hits.length} matches)`);
  }
  throw new NotFoundError(`network ${ref} not found`);
}

export function findSandbox(tx: ReadTxn, ref: string): SandboxRecord | undefined {
  const rt = parseRuntimeRef(ref);
  if (rt) return findByRuntime(tx, rt);
  const exact = tx.get('sandboxes', ref) ?? tx.find('sandboxes', 'name', ref)[0];
  if (exact) return exact;
  if (/^[0-9a-f]+$/.test(ref)) {
    const hits = tx.ids('sandboxes').filter((id) => id.startsWith(ref));
    if (hits.length === 1) return tx.get('sandboxes', hits[0] ?? '');
    if (hits.length > 1) throw new NotFoundError(`container ${ref} is ambiguous (${hits.length} matches)`);
  }
  return undefined;
}

export function requireSandbox(tx: ReadTxn, ref: string): SandboxRecord {
  const sb = findSandbox(tx, ref);
  if (!sb) throw new NotFoundError(`No such container: ${ref}`, `create it with: netctl sandbox create ${ref}`);
  return sb;
}

/** Endpoints of a sandbox and/or on a network, in join order (through the store's indexes). */
export function endpointsOf(tx: ReadTxn, of: { sandbox?: string; network?: string }): EndpointRecord[] {
  const eps =
    of.sandbox !== undefined
      ? tx
          .find('endpoints', 'sandboxId', of.sandbox)
          .filter((e) => of.network === undefined || e.networkId === of.network)
      : tx.find('endpoints', 'networkId', of.network ?? '');
  return eps.sort((a, b) => a.seq - b.seq);
}

/** Ids of the networks that have endpoints (from the index: no endpoint is read). */
export function busyNetworks(tx: ReadTxn): Set<string> {
  return new Set(tx.values('endpoints', 'networkId'));
}

/** Sandboxes sharing `sb`'s netns (`--net container:sb`). */
export function dependents(tx: ReadTxn, sb: SandboxRecord): SandboxRecord[] {
  return tx.find('sandboxes', 'mode', `container:${sb.id}`);
}

/** The running sandbox whose netns a `container:OTHER` sandbox joins. */
export function sharedWith(tx: ReadTxn, ref: string): SandboxRecord {
  const other = requireSandbox(tx, ref);
  if (other.state !== 'running')
    throw new ConflictError(`cannot join the network namespace of container ${other.name}: it is not running`);
  if (sharesNetns(other.mode))
    throw new ConflictError(
      `cannot join the network namespace of container ${other.name}: it shares another one itself`,
    );
  return other;
}

/** Finds networks by id for the gateway election; `extra` is one not yet stored (being planned). */
export const networkOf =
  (tx: ReadTxn, extra?: NetworkRecord) =>
  (id: string): NetworkRecord | undefined =>
    extra && id === extra.id ? extra : tx.get('networks', id);

/** The name a sandbox id is known by in messages. */
export const sandboxName = (tx: ReadTxn, id: string): string => tx.get('sandboxes', id)?.name ?? id.slice(0, 12);
