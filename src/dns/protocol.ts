// What commands and the resolver say to each other (docs/reference.md §14): one JSON line each
// way on a unix socket in the state root, which only its owner (root) can enter: nobody else
// can hand the resolver names to serve or addresses to bind. Light on purpose: the resolver's
// bundle loads this, not the store or the drivers.
import { join } from 'node:path';

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

/**
 * `sync`: serve `view` (computed by a command under the store's lock), whose digest it is;
 * `release`: stop unless serving something (a command that started it failed).
 */
export type Request = { op: 'sync'; digest: string; view: DnsView } | { op: 'status' } | { op: 'release' };

/** What a running resolver says of itself (`dns ls`, `inspect`, doctor); pid 0: it is stopping. */
export interface ResolverStatus {
  pid: number;
  digest: string;
  networks: Array<{ id: string; name: string; address: string; records: number; queries: number; error?: string }>;
}

export const controlPath = (root: string): string => join(root, 'resolver.sock');
/** The resolver's pid, so that a command can replace one that stopped answering. */
export const pidPath = (root: string): string => join(root, 'resolver.pid');
