// The resolver's answers (docs/reference.md §14), from a DnsView: who asks (by source address),
// which names that querier may see (those of the networks it is on), and what to say. Pure:
// the server (server.ts) does the sockets and the forwarding.
import type { Answer, Packet, Question } from 'dns-packet';
import { formatIP, parseIP } from '../lib/ip.js';
import {
  digestText,
  endpointTerm,
  netTerm,
  rulesTerm,
  sandboxTerm,
  type DnsNameRule,
  type DnsNetwork,
  type DnsPatch,
  type DnsSandbox,
  type DnsView,
} from './protocol.js';

/** TTL of the resolver's own records: names change with every connect (§14: at most 60 s). */
export const TTL = 10;

export const RCODE = { NOERROR: 0, SERVFAIL: 2, NXDOMAIN: 3, NOTIMP: 4, REFUSED: 5 } as const;

interface Addrs {
  v4: string[];
  v6: string[];
}

export interface Querier {
  sb: string;
  /** Its networks in the view, the one the query came in on first. */
  nets: string[];
  /** Its --dns servers, its upstreams instead of the host's. */
  servers: string[];
  /** False when every network it is on is --internal: nothing leaves them, not even a query. */
  forward: boolean;
}

/** The host's resolv.conf as the resolver reads it (upstream.ts HostUpstreams). */
export interface HostResolv {
  servers(): string[];
  search(): string[];
}

export type Outcome =
  | { kind: 'answer'; answers: Answer[] }
  | { kind: 'nodata' }
  | { kind: 'forward'; servers: string[] }
  | { kind: 'refused' };

/** One sandbox as the zone holds it: its entry (absent: a view with its addresses alone), addresses and name rules. */
interface Held {
  entry: DnsSandbox | undefined;
  endpoints: Array<{ ip: string; net: string }>;
  rules: DnsNameRule[] | undefined;
}

/**
 * What the resolver answers from. Built from a whole view, then changed in place by patches
 * (each sandbox's part replaced): a change costs what it touches, not the size of the view.
 */
export class Zone {
  readonly nets = new Map<string, DnsNetwork>();
  /** Listening address -> the networks it serves. */
  readonly byListen = new Map<string, string[]>();
  /** Endpoint address -> its sandbox and network (a querier, or a PTR's target). */
  private readonly byIp = new Map<string, { sb: string; net: string }>();
  private readonly held = new Map<string, Held>();
  /** Sandboxes held without an address (a view may name one; a patch drops them, as patched() does). */
  private readonly bare = new Set<string>();
  /** Per network: lower-case name -> addresses on that network. */
  private readonly names = new Map<string, Map<string, Addrs>>();
  /** Records per network, for `dns ls`. */
  readonly records = new Map<string, number>();
  private readonly netsText: string;
  /** The digest's sum of terms and its count (protocol.ts viewDigest), kept as parts come and go. */
  private sum = 0;
  private count = 0;

  constructor(
    view: DnsView,
    private readonly host: HostResolv = { servers: () => [], search: () => [] },
  ) {
    this.netsText = JSON.stringify(view.networks);
    for (const n of view.networks) {
      this.nets.set(n.id, n);
      this.names.set(n.id, new Map());
      for (const l of n.listen) {
        const a = canonicalIP(l) ?? l;
        this.byListen.set(a, [...(this.byListen.get(a) ?? []), n.id]);
      }
      this.sum += netTerm(n);
      this.count++;
    }
    const parts = new Map<string, Held>();
    const partOf = (sb: string): Held => {
      let h = parts.get(sb);
      if (!h) parts.set(sb, (h = { entry: view.sandboxes[sb], endpoints: [], rules: view.policies?.[sb] }));
      return h;
    };
    for (const e of view.endpoints) partOf(e.sb).endpoints.push({ ip: e.ip, net: e.net });
    for (const id of Object.keys(view.sandboxes)) partOf(id);
    for (const id of Object.keys(view.policies ?? {})) partOf(id);
    for (const [id, h] of parts) this.add(id, h);
  }

  /** The view served, whole (what a patch that changes the networks applies to). */
  get view(): DnsView {
    const v: DnsView = { networks: [...this.nets.values()], endpoints: [], sandboxes: {} };
    for (const [id, h] of this.held) {
      if (h.entry) v.sandboxes[id] = h.entry;
      for (const e of h.endpoints) v.endpoints.push({ ip: e.ip, net: e.net, sb: id });
      if (h.rules) (v.policies ??= {})[id] = h.rules;
    }
    return v;
  }

  /** viewDigest(this.view), without making the view. */
  get digest(): string {
    return digestText(this.count, this.sum);
  }

  /** A sandbox's name rules (§16), if it has any. */
  rulesOf(sb: string): DnsNameRule[] | undefined {
    return this.held.get(sb)?.rules;
  }

  /**
   * Applies a patch in place when it serves the same networks; false when it does not (the
   * caller builds a zone of the patched view: the networks decide the sockets).
   */
  patch(p: Pick<DnsPatch, 'networks' | 'parts'>): boolean {
    if (JSON.stringify(p.networks) !== this.netsText) return false;
    for (const [id, part] of Object.entries(p.parts)) {
      this.remove(id);
      const endpoints = part?.endpoints.filter((e) => this.nets.has(e.net)) ?? [];
      if (part && endpoints.length)
        this.add(id, { entry: part.entry, endpoints, rules: part.rules?.length ? part.rules : undefined });
    }
    for (const id of this.bare) this.remove(id);
    return true;
  }

  private add(id: string, h: Held): void {
    this.held.set(id, h);
    if (!h.endpoints.length) this.bare.add(id);
    if (h.entry) this.term(sandboxTerm(id, h.entry), 1);
    if (h.rules) this.term(rulesTerm(id, h.rules), 0);
    for (const e of h.endpoints) {
      this.term(endpointTerm(e.net, id, e.ip), 1);
      const ip = canonicalIP(e.ip) ?? e.ip;
      this.byIp.set(ip, { sb: id, net: e.net });
      const table = this.names.get(e.net);
      if (!h.entry || !table) continue;
      for (const name of namesOn(h.entry, e.net)) {
        let a = table.get(name);
        if (!a) {
          table.set(name, (a = { v4: [], v6: [] }));
          this.records.set(e.net, (this.records.get(e.net) ?? 0) + 1);
        }
        (ip.includes(':') ? a.v6 : a.v4).push(ip);
      }
    }
  }

  private remove(id: string): void {
    const h = this.held.get(id);
    if (!h) return;
    this.held.delete(id);
    this.bare.delete(id);
    if (h.entry) this.term(-sandboxTerm(id, h.entry), -1);
    if (h.rules) this.term(-rulesTerm(id, h.rules), 0);
    for (const e of h.endpoints) {
      this.term(-endpointTerm(e.net, id, e.ip), -1);
      const ip = canonicalIP(e.ip) ?? e.ip;
      if (this.byIp.get(ip)?.sb === id) this.byIp.delete(ip);
      const table = this.names.get(e.net);
      if (!h.entry || !table) continue;
      for (const name of namesOn(h.entry, e.net)) {
        const a = table.get(name);
        if (!a) continue;
        const list = ip.includes(':') ? a.v6 : a.v4;
        const at = list.indexOf(ip);
        if (at >= 0) list.splice(at, 1);
        if (a.v4.length || a.v6.length) continue;
        table.delete(name);
        const left = (this.records.get(e.net) ?? 1) - 1;
        if (left) this.records.set(e.net, left);
        else this.records.delete(e.net);
      }
    }
  }

  private term(value: number, count: number): void {
    this.sum += value;
    this.count += count;
  }

  /** The sandbox behind a source address, if it is on a network served at `local`. */
  querier(source: string, local: string): Querier | undefined {
    const hit = this.byIp.get(canonicalIP(source) ?? source);
    const served = this.byListen.get(canonicalIP(local) ?? local) ?? [];
    if (!hit || !served.includes(hit.net)) return undefined;
    const h = this.held.get(hit.sb);
    const nets = [hit.net];
    for (const e of h?.endpoints ?? []) if (!nets.includes(e.net)) nets.push(e.net);
    const sb = h?.entry;
    return { sb: hit.sb, nets, servers: sb?.servers ?? [], forward: sb?.forward ?? false };
  }

  /** What to do with one question from `q`. */
  resolve(q: Querier, question: Question): Outcome {
    const name = question.name.toLowerCase().replace(/\.$/, '');
    if (question.type === 'PTR') {
      const target = ptrTarget(name);
      if (target !== undefined) {
        const hit = this.byIp.get(target);
        const sb = hit && q.nets.includes(hit.net) ? this.held.get(hit.sb)?.entry : undefined;
        if (sb) return { kind: 'answer', answers: [{ type: 'PTR', name: question.name, ttl: TTL, data: sb.name }] };
      }
    }
    const addrs = this.lookup(q, name);
    if (!addrs) {
      const listed = !q.forward ? [] : q.servers.length ? q.servers : this.host.servers();
      // Never to itself (a --dns or a host resolv.conf naming a gateway netctl answers on).
      const servers = listed.filter((s) => !this.byListen.has(canonicalIP(s) ?? s));
      return servers.length ? { kind: 'forward', servers } : { kind: 'refused' };
    }
    const rr = (type: 'A' | 'AAAA', list: string[]): Answer[] =>
      list.map((data) => ({ type, name: question.name, ttl: TTL, data }));
    const answers =
      question.type === 'A'
        ? rr('A', addrs.v4)
        : question.type === 'AAAA'
          ? rr('AAAA', addrs.v6)
          : (question.type as string) === 'ANY'
            ? [...rr('A', addrs.v4), ...rr('AAAA', addrs.v6)]
            : [];
    // A name netctl knows with no record of the type asked: NODATA, never NXDOMAIN (aardvark-dns#679).
    return answers.length ? { kind: 'answer', answers } : { kind: 'nodata' };
  }

  /** The name on the first of the querier's networks that has it, as asked or under one of its search domains. */
  private lookup(q: Querier, name: string): Addrs | undefined {
    const own = this.held.get(q.sb)?.entry?.search ?? [];
    const search = own.length ? own : this.host.search();
    const candidates = [
      name,
      ...search
        .map((d) => d.toLowerCase().replace(/\.$/, ''))
        .flatMap((d) => {
          return name.endsWith(`.${d}`) ? [name.slice(0, -d.length - 1)] : [];
        }),
    ];
    for (const c of candidates)
      for (const n of q.nets) {
        const a = this.names.get(n)?.get(c);
        if (a) return a;
      }
    return undefined;
  }
}

/** The names a sandbox has on a network, in lower case: its name, short ID and aliases there. */
const namesOn = (sb: DnsSandbox, net: string): Set<string> =>
  new Set([sb.name, sb.short, ...(sb.aliases[net] ?? [])].map((x) => x.toLowerCase()));

/** The address a reverse name stands for (`4.3.2.1.in-addr.arpa`, nibbles of `ip6.arpa`), or undefined. */
export function ptrTarget(name: string): string | undefined {
  if (name.endsWith('.in-addr.arpa')) {
    const parts = name.slice(0, -'.in-addr.arpa'.length).split('.');
    if (parts.length !== 4) return undefined;
    const ip = parts.reverse().join('.');
    return parseIP(ip)?.family === 4 ? ip : undefined;
  }
  if (name.endsWith('.ip6.arpa')) {
    const nibbles = name.slice(0, -'.ip6.arpa'.length).split('.');
    if (nibbles.length !== 32 || !nibbles.every((x) => /^[0-9a-f]$/.test(x))) return undefined;
    const hex = nibbles.reverse().join('');
    return canonicalIP((hex.match(/.{4}/g) ?? []).join(':'));
  }
  return undefined;
}

/** One spelling per address (IPv6 compressed, lower case), as a source address or the store may write it otherwise. */
export function canonicalIP(ip: string): string | undefined {
  const p = parseIP(ip);
  return p ? formatIP(p) : undefined;
}

/** The reply to `query` with `answers` and the response code. */
export function reply(query: Packet, rcode: number, answers: Answer[] = [], authoritative = true): Packet {
  const RD = 1 << 8;
  const RA = 1 << 7;
  const AA = 1 << 10;
  return {
    type: 'response',
    id: query.id ?? 0,
    flags: ((query.flags ?? 0) & RD) | RA | (authoritative ? AA : 0) | rcode,
    questions: query.questions ?? [],
    answers,
  };
}
