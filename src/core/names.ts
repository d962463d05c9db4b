// Name resolution without a daemon (docs/reference.md §5): each sandbox netctl made gets
// <etc>/netns/<NAME>/hosts and resolv.conf, which `ip netns exec` bind-mounts over /etc.
// The files are derived from the store and rewritten in place whenever a peer changes.
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { ReadTxn } from '../store/store.js';
import { bareIP, type NetworkRecord, type SandboxRecord } from '../model/records.js';
import { resolverAddresses, resolverFor } from '../dns/view.js';
import { unusable } from '../dns/resolvconf.js';

const HEADER = [
  '127.0.0.1\tlocalhost',
  '::1\tlocalhost ip6-localhost ip6-loopback',
  'fe00::0\tip6-localnet',
  'ff00::0\tip6-mcastprefix',
  'ff02::1\tip6-allnodes',
  'ff02::2\tip6-allrouters',
];

/**
 * The hosts file of `sb`: itself and, per user-defined network it is on that has no resolver,
 * every peer on that network by name and by each of its aliases there. Lines are grouped per
 * network, so leaving one network drops exactly that network's lines. Peers on a network with
 * a resolver come from the resolver, so a connect there rewrites no peer's file.
 */
export function hostsFile(tx: ReadTxn, sb: SandboxRecord, sections = new Map<string, string[]>()): string {
  const lines = [...HEADER];
  for (const h of sb.extraHosts ?? []) lines.push(`${h.ip}\t${h.name}`);
  const mine = tx.find('endpoints', 'sandboxId', sb.id).sort((a, b) => a.seq - b.seq);
  const first = mine.find((e) => e.ipv4);
  if (first) lines.push(`${bareIP(first.ipv4)}\t${uniq([sb.hostname, sb.name]).join(' ')}`);
  for (const ep of mine) {
    const nw = tx.get('networks', ep.networkId);
    if (!nw || !listsPeers(nw) || !ep.ipv4) continue;
    let section = sections.get(nw.id);
    if (!section) sections.set(nw.id, (section = networkSection(tx, nw)));
    lines.push(...section);
  }
  return lines.join('\n') + '\n';
}

/** Every member of a network by name and by each of its aliases there. */
function networkSection(tx: ReadTxn, nw: NetworkRecord): string[] {
  const lines = [`# network ${nw.name}`];
  const peers = tx.find('endpoints', 'networkId', nw.id).sort((a, b) => a.seq - b.seq || (a.id < b.id ? -1 : 1));
  for (const p of peers) {
    const psb = tx.get('sandboxes', p.sandboxId);
    if (!psb) continue;
    const aliases = psb.networks[nw.id]?.settings.Aliases ?? [];
    for (const ip of [p.ipv4, p.ipv6].filter(Boolean))
      lines.push(`${bareIP(ip)}\t${uniq([psb.name, ...aliases]).join(' ')}`);
  }
  return lines;
}

/** Whether the hosts files of a network's sandboxes list its peers: a user-defined network without a resolver. */
export const listsPeers = (nw: NetworkRecord): boolean => !nw.predefined && resolverAddresses(nw).length === 0;

const uniq = (xs: string[]) => [...new Set(xs.filter(Boolean))];

/**
 * The sandbox's resolv.conf. On a network with netctl's resolver (`resolver`, its address), it
 * names only the resolver, whose upstreams are the sandbox's --dns servers (Docker's
 * behaviour); elsewhere, the host's nameservers without loopback or link-local ones (unusable from a
 * netns), or --dns. --dns-search and --dns-option replace the host's lines either way.
 */
export function resolvConf(hostResolv: string, sb: SandboxRecord, resolver = ''): string {
  const dns = sb.dns ?? { servers: [], search: [], options: [] };
  const servers = resolver ? [resolver] : dns.servers;
  const kept: string[] = [];
  for (const line of hostResolv.split('\n')) {
    const [key, value = ''] = line.trim().split(/\s+/);
    if (key === 'nameserver' && (unusable(value) || servers.length)) continue;
    if (key === 'search' && dns.search.length) continue;
    if (key === 'options' && dns.options.length) continue;
    if (line.trim()) kept.push(line.trim());
  }
  const out = [
    ...servers.map((s) => `nameserver ${s}`),
    ...(dns.search.length ? [`search ${dns.search.join(' ')}`] : []),
    ...(dns.options.length ? [`options ${dns.options.join(' ')}`] : []),
    ...kept,
  ];
  return out.join('\n') + '\n';
}

export class NameFiles {
  constructor(
    private readonly etcNetns: string,
    private readonly hostResolv = '/etc/resolv.conf',
  ) {}

  private resolvText: string | null = null;

  /** Read once per command (a change may rewrite the files of every peer). */
  private hostResolvText(): string {
    if (this.resolvText !== null) return this.resolvText;
    try {
      this.resolvText = readFileSync(this.hostResolv, 'utf8');
    } catch {
      this.resolvText = ''; // no host resolv.conf: the sandbox gets only what its flags say
    }
    return this.resolvText;
  }

  private dir(sb: SandboxRecord): string {
    return join(this.etcNetns, sb.name);
  }

  /**
   * Writes both files where they differ from what is there. In place, not by rename: `ip
   * netns exec` bind-mounts them over /etc when a process starts, so a replaced file would
   * never reach a process already running (Docker writes /etc/hosts in place for the same
   * reason); a reader may see the file empty for the instant between truncation and write.
   * A peer of a changed sandbox gets only its hosts file, without a look at the old one: it
   * has changed, and a change on a network of many sandboxes rewrites every peer's.
   */
  write(tx: ReadTxn, sb: SandboxRecord, sections?: Map<string, string[]>, peer = false): void {
    const dir = this.dir(sb);
    if (!peer) mkdirSync(dir, { recursive: true, mode: 0o755 });
    const files: Array<[string, string]> = [['hosts', hostsFile(tx, sb, sections)]];
    if (!peer) files.push(['resolv.conf', resolvConf(this.hostResolvText(), sb, resolverFor(tx, sb.id))]);
    for (const [file, text] of files) {
      const path = join(dir, file);
      if (!peer && readQuiet(path) === text) continue;
      try {
        writeFileSync(path, text, { mode: 0o644 });
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
        mkdirSync(dir, { recursive: true, mode: 0o755 }); // a peer whose directory was removed by hand
        writeFileSync(path, text, { mode: 0o644 });
      }
    }
  }

  remove(name: string): void {
    rmSync(join(this.etcNetns, name), { recursive: true, force: true });
  }
}

function readQuiet(path: string): string | null {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    return null;
  }
}

/**
 * Points a runtime container's own resolv.conf (§15) at `resolver`, in place (runtimes
 * bind-mount the file into the container), keeping its search and options lines. With no
 * resolver, the nameservers it had before are put back. Returns the nameserver lines to keep
 * for that (undefined: nothing to keep any more).
 */
export function pointResolvConf(path: string, resolver: string, saved: string[] | undefined): string[] | undefined {
  const text = readQuiet(path);
  if (text === null) return saved; // the runtime manages none (or the container is gone)
  const lines = text.split('\n');
  const servers = lines.filter((l) => /^\s*nameserver\s/.test(l));
  const rest = lines.filter((l) => !/^\s*nameserver\s/.test(l));
  if (!resolver && !saved) return undefined;
  const want = resolver ? [`nameserver ${resolver}`] : (saved ?? []);
  const out = [...want, ...rest].join('\n').replace(/\n*$/, '\n');
  if (out !== text) writeFileSync(path, out);
  return resolver ? (saved ?? servers) : undefined;
}
