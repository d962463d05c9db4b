// What commands and the resolver say to each other (docs/reference.md §14): one JSON line each
// way on an abstract unix socket named after the state root's device and inode (like the
// store's lock, it is scoped to the network namespace the resolver serves). Light on purpose:
// the resolver's bundle loads this, not the store or the drivers.
import { statSync } from 'node:fs';

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
  /** --dns-search domains: a name under one of them is looked up without it. */
  search: string[];
}

export interface DnsView {
  networks: DnsNetwork[];
  /** Every address of an endpoint on a network of `networks`: who asks, and who is answered. */
  endpoints: Array<{ ip: string; net: string; sb: string }>;
  sandboxes: Record<string, DnsSandbox>;
}

/** `sync`: serve `view` (computed by a command under the store's lock), whose digest it is. */
export type Request = { op: 'sync'; digest: string; view: DnsView } | { op: 'status' };

/** What a running resolver says of itself (`dns ls`, `inspect`, doctor); pid 0: it is stopping. */
export interface ResolverStatus {
  pid: number;
  digest: string;
  networks: Array<{ id: string; name: string; address: string; records: number; queries: number; error?: string }>;
}

export function controlName(root: string): string {
  const st = statSync(root);
  return `\0netctl-dns:${st.dev}:${st.ino}`;
}
