// What commands and the resolver say to each other (docs/reference.md §14): one JSON line each
// way on a unix socket in the state root, which only its owner (root) can enter: nobody else
// can hand the resolver names to serve or addresses to bind. Light on purpose: the resolver's
// bundle loads this, not the store or the drivers.
import { join } from 'node:path';
import CRC32 from 'crc-32';

export interface DnsNetwork {
  id: string;
  name: string;
  internal: boolean;
  /** The addresses the resolver answers on for this network (the bridge's gateways). */
  listen: string[];
}

export interface DnsSandbox {
  name: string;
  /** The first 12 hex digits of its ID, a name too. */
  short: string;
  /** --alias names per network id. */
  aliases: Record<string, string[]>;
  /** --dns servers: this sandbox's upstreams at the resolver (Docker's behaviour). */
  servers: string[];
  /** --dns-search domains: a name under one of them is looked up without it (none: the host's). */
  search: string[];
  /** Names it does not know are forwarded: it has an endpoint on some non-internal network. */
  forward: boolean;
}

/**
 * A name rule of a sandbox's egress policy (docs/reference.md §16): the addresses of an answer
 * to a name it covers go into these nftables sets (table inet netctl) before the answer is released.
 */
export interface DnsNameRule {
  name: string;
  /** `*.name`: the names below `name`, not `name` itself. */
  wildcard: boolean;
  set4: string;
  set6: string;
}

export interface DnsView {
  networks: DnsNetwork[];
  /** Every address of an endpoint on a network of `networks`: who asks, and who is answered. */
  endpoints: Array<{ ip: string; net: string; sb: string }>;
  sandboxes: Record<string, DnsSandbox>;
  /** Name rules by sandbox id (absent: no sandbox here has one). */
  policies?: Record<string, DnsNameRule[]>;
}

/** One local sandbox's part of a view: its entry, and its addresses (`sb` is the sandbox). */
export interface SandboxPart {
  entry: DnsSandbox;
  endpoints: Array<{ ip: string; net: string }>;
  /** Its egress policy's name rules (§16), if any. */
  rules?: DnsNameRule[];
}

/**
 * A change of the view: the networks served now, and the new part of each sandbox the change
 * touched (null: it has none any more). It applies to the view of store generation `since`
 * only; the result is the view of generation `gen`.
 */
export interface DnsPatch {
  since: number;
  gen: number;
  networks: DnsNetwork[];
  parts: Record<string, SandboxPart | null>;
}

/**
 * `sync`: serve `view` (computed by a command under the store's lock) of store generation
 * `gen`; `patch`: change the view served (answered with `stale` when it is not of the
 * patch's base generation: then a sync follows); `release`: stop unless serving something
 * (a command that started it failed).
 */
/**
 * What a committed operation changed, for the resolver: the store generations it went from
 * and to, the patch (null: only the whole view says it) and the whole view, each derived
 * only if asked.
 */
export interface ViewChange {
  since: number;
  gen: number;
  patch(): Omit<DnsPatch, 'since' | 'gen'> | null;
  view(): DnsView;
}

export type Request =
  { op: 'sync'; gen: number; view: DnsView } | ({ op: 'patch' } & DnsPatch) | { op: 'status' } | { op: 'release' };

/** What a running resolver says of itself (`dns ls`, `inspect`, doctor); pid 0: it is stopping. */
export interface ResolverStatus {
  pid: number;
  digest: string;
  /** The store generation of the view served. */
  gen?: number;
  /** A patch for another base generation was not applied. */
  stale?: boolean;
  networks: Array<{ id: string; name: string; address: string; records: number; queries: number; error?: string }>;
}

export const controlPath = (root: string): string => join(root, 'resolver.sock');
/**
 * What the resolver serves, written by it at each change before it answers: `inspect` reads
 * this file rather than asking over the socket (no node:net, no round trip).
 */
export const servedPath = (root: string): string => join(root, 'resolver.served');
export interface Served {
  pid: number;
  /** Each network served; `error` when its address could not be opened. */
  networks: Array<{ id: string; error?: string }>;
}
/** The resolver's pid, so that a command can replace one that stopped answering. */
export const pidPath = (root: string): string => join(root, 'resolver.pid');

/** Adds a sandbox's part to a view (a resolver applying a patch does the same). */
export function addPart(view: DnsView, id: string, part: SandboxPart | null): void {
  if (!part) return;
  view.sandboxes[id] = part.entry;
  for (const e of part.endpoints) view.endpoints.push({ ...e, sb: id });
  if (part.rules?.length) (view.policies ??= {})[id] = part.rules;
}

/**
 * A short fingerprint of a view: equal views, equal digests, whatever the order of their
 * entries (a resolver that applied patches holds them in another order than dnsView makes).
 * A sum of one term per entry, so that a patch moves it by the terms of what it changed.
 */
export function viewDigest(v: DnsView): string {
  let sum = 0;
  for (const n of v.networks) sum += netTerm(n);
  for (const e of v.endpoints) sum += endpointTerm(e.net, e.sb, e.ip);
  for (const [id, s] of Object.entries(v.sandboxes)) sum += sandboxTerm(id, s);
  for (const [id, r] of Object.entries(v.policies ?? {})) sum += rulesTerm(id, r);
  return digestText(v.networks.length + v.endpoints.length + Object.keys(v.sandboxes).length, sum);
}

const crc = (s: string): number => CRC32.str(s) >>> 0;
export const netTerm = (n: DnsNetwork): number => crc(`n${JSON.stringify(n)}`);
export const endpointTerm = (net: string, sb: string, ip: string): number => crc(`e${net} ${sb} ${ip}`);
export const sandboxTerm = (id: string, s: DnsSandbox): number => crc(`s${id}${JSON.stringify(s)}`);
export const rulesTerm = (id: string, r: DnsNameRule[]): number => crc(`p${id}${JSON.stringify(r)}`);
/** The digest of `count` networks, endpoints and sandboxes whose terms add up to `sum`. */
export const digestText = (count: number, sum: number): string => `${count.toString(16)}-${(sum >>> 0).toString(16)}`;

/** The view served with a patch applied: the patched sandboxes' parts replaced, the networks set. */
export function patched(v: DnsView, p: Pick<DnsPatch, 'networks' | 'parts'>): DnsView {
  const served = new Set(p.networks.map((n) => n.id));
  const out: DnsView = {
    networks: p.networks,
    endpoints: v.endpoints.filter((e) => !(e.sb in p.parts)),
    sandboxes: {},
  };
  for (const [id, s] of Object.entries(v.sandboxes)) if (!(id in p.parts)) out.sandboxes[id] = s;
  for (const [id, r] of Object.entries(v.policies ?? {})) if (!(id in p.parts)) (out.policies ??= {})[id] = r;
  for (const [id, part] of Object.entries(p.parts)) addPart(out, id, part);
  out.endpoints = out.endpoints.filter((e) => served.has(e.net));
  const named = new Set(out.endpoints.map((e) => e.sb));
  for (const id of Object.keys(out.sandboxes)) if (!named.has(id)) delete out.sandboxes[id];
  for (const id of Object.keys(out.policies ?? {})) if (!named.has(id)) delete out.policies?.[id];
  return out;
}
