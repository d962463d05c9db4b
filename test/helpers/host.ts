// Tier 3 harness: a throw-away "host" network namespace per test file, in which the built
// bin/netctl runs (through nsenter, so named netns it makes are visible machine-wide) with its
// own --root. Sandbox names carry a per-run tag because named netns are global. Everything is
// asserted through the kernel (`ip -j`, ping), and cleanup is checked.
import { spawn, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadState } from '../../src/store/state.js';

export const BIN = fileURLToPath(new URL('../../../bin/netctl', import.meta.url));
// Every netctl the tests run proves that each record it changed was put or deleted (the store
// writes only those between full rewrites).
process.env['NETCTL_CHECK_STORE'] = '1';
// ... and that the view its resolver holds after a patch is the one the store implies.
process.env['NETCTL_CHECK_DNS'] = '1';
const TCP = fileURLToPath(new URL('./tcp.js', import.meta.url));

export interface Result {
  code: number;
  out: string;
  err: string;
}

export const isRoot = process.getuid?.() === 0;

function sh(file: string, args: string[], input?: string, env: Record<string, string> = {}): Result {
  const r = spawnSync(file, args, { encoding: 'utf8', input, env: { ...process.env, LC_ALL: 'C', ...env } });
  return { code: r.status ?? 1, out: r.stdout ?? '', err: r.stderr ?? '' };
}

/** What a harness built on TestHost may choose (the multi-host cluster does). */
export interface TestHostOptions {
  /** The prefix of every name this host makes (default: a random `nct<6 hex>`). */
  tag?: string;
  /** Extra environment for every netctl this host runs. */
  env?: Record<string, string>;
}

export class TestHost {
  readonly tag: string;
  readonly ns: string;
  readonly root = mkdtempSync(join(tmpdir(), 'netctl-e2e-'));
  /** Extra environment for every netctl run by this host. */
  readonly env: Record<string, string>;

  constructor(opts: TestHostOptions = {}) {
    this.tag = opts.tag ?? `nct${randomBytes(3).toString('hex')}`;
    this.ns = `${this.tag}h`;
    this.env = { ...opts.env };
    must(sh('ip', ['netns', 'add', this.ns]));
    must(sh('ip', ['-n', this.ns, 'link', 'set', 'lo', 'up']));
    // The host's resolv.conf as netctl's resolver reads it here: no upstream, so no query of a
    // test is ever forwarded towards this machine's resolver. A test that wants one writes it.
    mkdirSync(`/etc/netns/${this.ns}`, { recursive: true });
    writeFileSync(`/etc/netns/${this.ns}/resolv.conf`, '# netctl tests: no upstream\n');
  }

  /** A sandbox / netns name unique to this run. */
  name(x: string): string {
    return `${this.tag}-${x}`;
  }

  /** Runs bin/netctl inside the test host namespace with this host's state root. */
  netctl(...args: string[]): Result {
    return sh('nsenter', [`--net=/var/run/netns/${this.ns}`, BIN, '--root', this.root, ...args], undefined, this.env);
  }

  /** bin/netctl in this host with extra (or overridden, '' = unset) environment. */
  netctlEnv(env: Record<string, string>, ...args: string[]): Result {
    const merged: Record<string, string> = { ...this.env, ...env };
    const unset = Object.keys(merged).filter((k) => merged[k] === '');
    const set = Object.entries(merged)
      .filter(([, v]) => v !== '')
      .map(([k, v]) => `${k}=${v}`);
    return sh('env', [
      ...unset.flatMap((k) => ['-u', k]),
      ...set,
      'nsenter',
      `--net=/var/run/netns/${this.ns}`,
      BIN,
      '--root',
      this.root,
      ...args,
    ]);
  }

  /** The same, asynchronously (for concurrency tests). */
  netctlAsync(...args: string[]): Promise<Result> {
    return new Promise((resolve) => {
      const p = spawn('nsenter', [`--net=/var/run/netns/${this.ns}`, BIN, '--root', this.root, ...args], {
        env: { ...process.env, ...this.env },
      });
      let out = '';
      let err = '';
      p.stdout.on('data', (d) => (out += d));
      p.stderr.on('data', (d) => (err += d));
      p.on('close', (code) => resolve({ code: code ?? 1, out, err }));
    });
  }

  /** Succeeds or throws with netctl's stderr. */
  ok(...args: string[]): string {
    const r = this.netctl(...args);
    if (r.code !== 0) throw new Error(`netctl ${args.join(' ')} -> ${r.code}: ${r.err}`);
    return r.out;
  }

  /** `ip -j` in a namespace (default: the test host). */
  ipj<T = unknown>(ns: string | null, ...args: string[]): T {
    const r = sh('ip', [...(ns === null ? ['-n', this.ns] : ['-n', ns]), '-j', ...args]);
    if (r.code !== 0) throw new Error(`ip ${args.join(' ')}: ${r.err}`);
    return JSON.parse(r.out || '[]') as T;
  }

  links(ns: string | null = null): Array<{
    ifname: string;
    address: string;
    master?: string;
    operstate: string;
    link_type: string;
    flags: string[];
    mtu: number;
  }> {
    return this.ipj(ns, 'link', 'show');
  }

  /** IPv4 addresses (CIDR) per interface name inside a namespace. */
  addrs(ns: string): Record<string, string[]> {
    const out: Record<string, string[]> = {};
    for (const l of this.ipj<
      Array<{ ifname: string; addr_info: Array<{ family: string; local: string; prefixlen: number }> }>
    >(ns, '-4', 'addr', 'show')) {
      out[l.ifname] = l.addr_info.filter((a) => a.family === 'inet').map((a) => `${a.local}/${a.prefixlen}`);
    }
    return out;
  }

  routes(ns: string): Array<{ dst: string; gateway?: string; dev: string }> {
    return this.ipj(ns, '-4', 'route', 'show');
  }

  /** One ICMP echo from inside `fromNs` to an address inside another test namespace. */
  ping(fromNs: string, ip: string): boolean {
    return sh('ip', ['netns', 'exec', fromNs, 'ping', '-c1', '-W1', '-q', ip]).code === 0;
  }

  netnsExists(name: string): boolean {
    return existsSync(`/var/run/netns/${name}`);
  }

  /** The state netctl works from: store.json with journal.json applied. */
  store(): {
    networks: Record<string, { name: string }>;
    endpoints: Record<string, unknown>;
    sandboxes: Record<string, { name: string }>;
    journal: unknown[];
  } {
    return loadState(this.root) as unknown as ReturnType<TestHost['store']>;
  }

  /** The same as comparable text: keys sorted, the journal generation left out. */
  storeText(): string {
    const sorted = (v: unknown): unknown =>
      Array.isArray(v)
        ? v.map(sorted)
        : v && typeof v === 'object'
          ? Object.fromEntries(
              Object.entries(v)
                .filter(([k]) => k !== 'journalGen')
                .sort(([a], [b]) => a.localeCompare(b))
                .map(([k, x]) => [k, sorted(x)]),
            )
          : v;
    return JSON.stringify(sorted(this.store()));
  }

  /** Namespaces made by the test itself (another runtime's), which netctl must leave in place. */
  readonly foreign = new Set<string>();

  /** `ip netns add` outside netctl. */
  foreignNetns(name: string): void {
    must(sh('ip', ['netns', 'add', name]));
    this.foreign.add(name);
  }

  /**
   * What would leak: netctl's netns, any link left in the test host besides lo, and netctl interfaces in
   * foreign netns.
   */
  leaks(): string[] {
    const out: string[] = [];
    for (const n of readdirSync('/var/run/netns').filter((n) => n.startsWith(this.tag) && n !== this.ns)) {
      if (!this.foreign.has(n)) out.push(`netns ${n}`);
      else
        for (const l of this.links(n))
          if (l.ifname !== 'lo' && !this.foreignLinks.has(`${n}/${l.ifname}`)) out.push(`link ${l.ifname} in ${n}`);
    }
    for (const l of this.links())
      if (l.ifname !== 'lo' && !this.foreignLinks.has(l.ifname)) out.push(`link ${l.ifname}`);
    if (existsSync('/etc/netns'))
      for (const n of readdirSync('/etc/netns').filter((n) => n.startsWith(this.tag) && n !== this.ns))
        out.push(`/etc/netns/${n}`);
    return out;
  }

  /** Links the test made in the test host itself (the uplink to the outside namespace). */
  readonly foreignLinks = new Set<string>();

  /**
   * An "outside" client namespace linked to the test host by a veth, with documentation
   * addresses: host 192.0.2.1/24, outside 192.0.2.2/24 (default route via the host).
   */
  outside(): string {
    const o = `${this.tag}o`;
    const up = `${this.tag}x`;
    this.foreignNetns(o);
    must(sh('ip', ['-n', this.ns, 'link', 'add', up, 'type', 'veth', 'peer', 'name', 'eth0', 'netns', o]));
    this.foreignLinks.add(up);
    this.foreignLinks.add(`${o}/eth0`);
    must(sh('ip', ['-n', this.ns, '-batch', '-'], `addr add 192.0.2.1/24 dev ${up}\nlink set ${up} up\n`));
    must(
      sh(
        'ip',
        ['-n', o, '-batch', '-'],
        'link set lo up\naddr add 192.0.2.2/24 dev eth0\nlink set eth0 up\nroute add default via 192.0.2.1\n',
      ),
    );
    return o;
  }

  private readonly servers: Array<() => void> = [];

  /** Starts a TCP server in `ns` (null: the test host) answering with the client's address. */
  serve(ns: string | null, port: number): Promise<void> {
    const target = ns === null ? this.ns : ns;
    const p = spawn('nsenter', [`--net=/var/run/netns/${target}`, process.execPath, TCP, 'serve', String(port)]);
    this.servers.push(() => p.kill());
    return new Promise((resolve, reject) => {
      p.stdout.once('data', () => resolve());
      p.once('exit', (c) => reject(new Error(`server in ${target} exited ${c}`)));
    });
  }

  /** Connects from `ns` (null: the test host) and returns what the server answered ('' if nothing). */
  ask(ns: string | null, host: string, port: number): string {
    const target = ns === null ? this.ns : ns;
    return sh('nsenter', [
      `--net=/var/run/netns/${target}`,
      process.execPath,
      TCP,
      'ask',
      host,
      String(port),
    ]).out.trim();
  }

  run(file: string, args: string[]): Result {
    return sh(file, args);
  }

  /** iptables-save of the test host namespace. */
  iptablesSave(): string {
    const r = sh('ip', ['netns', 'exec', this.ns, 'iptables-save']);
    if (r.code !== 0 || !r.out) throw new Error(`iptables-save in ${this.ns}: exit ${r.code}: ${r.err}`);
    return r.out;
  }

  /** iptables inside the test host namespace. */
  iptables(...args: string[]): Result {
    return sh('ip', ['netns', 'exec', this.ns, 'iptables', ...args]);
  }

  /** Stops the TCP servers `serve` started (a running one keeps the test process alive). */
  stopServers(): void {
    this.servers.splice(0).forEach((kill) => kill());
  }

  /** The pids of netctl's resolver for this host's state root. */
  resolverPids(): string[] {
    return sh('pgrep', ['-f', `resolver.cjs --root ${this.root}$`])
      .out.trim()
      .split('\n')
      .filter(Boolean);
  }

  /** Removes what netctl knows of, then anything of this run that is still there. */
  cleanup(): string[] {
    this.stopServers();
    let found: string[] = [];
    if (existsSync(join(this.root, 'store.json'))) {
      const s = this.store();
      const sbs = Object.values(s.sandboxes).map((x) => x.name);
      if (sbs.length) this.netctl('sandbox', 'rm', '-f', ...sbs);
      const nets = Object.values(s.networks)
        .map((x) => x.name)
        .filter((n) => !['bridge', 'host', 'none'].includes(n));
      if (nets.length) this.netctl('rm', '-f', ...nets);
      found = this.leaks().filter((l) => l !== 'link netctl0');
      const after = this.store();
      if (Object.keys(after.endpoints).length) found.push(`store endpoints: ${Object.keys(after.endpoints).length}`);
      if (after.journal.length) found.push(`store journal entries: ${after.journal.length}`);
    }
    // netctl's resolver stops with the last endpoint; one still running for this root leaked.
    for (const pid of this.resolverPids()) {
      found.push(`resolver pid ${pid}`);
      sh('kill', [pid]);
    }
    for (const n of readdirSync('/var/run/netns').filter((n) => n.startsWith(this.tag) && n !== this.ns))
      sh('ip', ['netns', 'del', n]);
    if (existsSync('/etc/netns'))
      for (const n of readdirSync('/etc/netns').filter((n) => n.startsWith(this.tag)))
        rmSync(`/etc/netns/${n}`, { recursive: true, force: true });
    sh('ip', ['netns', 'del', this.ns]);
    rmSync(this.root, { recursive: true, force: true });
    return found;
  }
}

function must(r: Result): void {
  if (r.code !== 0) throw new Error(r.err);
}

export function run(file: string, args: string[]): Result {
  return sh(file, args);
}
