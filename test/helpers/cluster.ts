// Tier 3 multi-host harness (docs/reference.md §10 overlay). One cluster per test FILE:
//
//   <tag>sw   the "switch": a Linux bridge br0 with one port per member (veth h1 h2 h3 e0)
//   <tag>1h   host1: ul0 192.0.2.1/24 ─┐
//   <tag>2h   host2: ul0 192.0.2.2/24 ─┼─ the underlay, MTU 1500
//   <tag>3h   host3: ul0 192.0.2.3/24 ─┤
//   <tag>e    etcd:  ul0 192.0.2.100/24┘  Debian's etcd (3.4) with a tmp data dir, :2379 / :2380
//
// Each host is a TestHost (its own netns, its own --root, names prefixed with `<tag><N>`) whose
// netctl runs with NETCTL_CLUSTER_STORE, NETCTL_ADVERTISE_ADDR and NETCTL_NODE_NAME set (all
// hosts share the machine's hostname). Every namespace name starts with the cluster's tag, so
// one scan of /var/run/netns finds whatever a run leaked. Traffic only ever goes to addresses
// inside these namespaces; the machine's own network is never touched.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { BIN, TestHost, run, type Result } from './host.js';

export const ETCD_IP = '192.0.2.100';
export const STORE_URL = `etcd://${ETCD_IP}:2379`;
/** The underlay device's name in every host (and in the etcd namespace). */
export const UPLINK = 'ul0';
const PREDEFINED = new Set(['bridge', 'host', 'none']);

function must(r: Result, what: string): Result {
  if (r.code !== 0) throw new Error(`${what}: exit ${r.code}: ${r.err}`);
  return r;
}

function ipBatch(ns: string, lines: string[]): void {
  const r = spawnSync('ip', ['-n', ns, '-batch', '-'], { input: lines.join('\n') + '\n', encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`ip -n ${ns} -batch: ${r.stderr}`);
}

export interface Fdb {
  mac: string;
  dst?: string;
  state?: string;
  flags?: string[];
  ifname?: string;
  master?: string;
  vlan?: number;
}
export interface Neigh {
  dst: string;
  lladdr?: string;
  state?: string[];
}
export interface LinkDetail {
  ifname: string;
  mtu: number;
  master?: string;
  address: string;
  flags: string[];
  linkinfo?: { info_kind?: string; info_data?: Record<string, unknown> };
}

export interface Agent {
  readonly host: ClusterHost;
  readonly pid: number | undefined;
  /** What the agent printed so far (stdout + stderr), for assertion messages. */
  output(): string;
  /** Whether the process is still running. */
  alive(): boolean;
  /** SIGTERM, then SIGKILL if it has not exited after 2 s (or SIGKILL at once). */
  kill(signal?: NodeJS.Signals): Promise<void>;
}

/** One host of the cluster: a TestHost with the cluster store in netctl's environment. */
export class ClusterHost extends TestHost {
  readonly addr: string;
  readonly nodeName: string;

  constructor(
    readonly cluster: Cluster,
    readonly index: number,
  ) {
    super({
      tag: `${cluster.tag}${index}`,
      env: {
        NETCTL_CLUSTER_STORE: STORE_URL,
        NETCTL_ADVERTISE_ADDR: `192.0.2.${index}`,
        NETCTL_NODE_NAME: `host${index}`,
        ...(cluster.certs ? { NETCTL_CLUSTER_STORE_OPTS: cluster.certs.opts(cluster.certs.client) } : {}),
      },
    });
    this.addr = `192.0.2.${index}`;
    this.nodeName = `host${index}`;
  }

  /** The same, asynchronously, as a process the caller may kill (SIGKILL mid-command). */
  spawnNetctl(env: Record<string, string>, ...args: string[]): { proc: ChildProcess; done: Promise<Result> } {
    const proc = spawn('nsenter', [`--net=/var/run/netns/${this.ns}`, BIN, '--root', this.root, ...args], {
      env: { ...process.env, LC_ALL: 'C', ...this.env, ...env },
    });
    let out = '';
    let err = '';
    proc.stdout?.on('data', (d) => (out += d));
    proc.stderr?.on('data', (d) => (err += d));
    const done = new Promise<Result>((resolve) =>
      proc.on('close', (code, sig) => resolve({ code: code ?? (sig ? 128 + 9 : 1), out, err })),
    );
    return { proc, done };
  }

  /** `ip -d -j link show dev IF` (undefined when IF does not exist) in a namespace (null: this host). */
  linkDetail(ifname: string, ns: string | null = null): LinkDetail | undefined {
    return this.ipj<LinkDetail[]>(ns, '-d', 'link', 'show').find((l) => l.ifname === ifname);
  }

  /** Names of the links in this host's namespace. */
  linkNames(): string[] {
    return this.links()
      .map((l) => l.ifname)
      .sort();
  }

  /** `bridge -j fdb show dev DEV` in this host ([] when DEV is missing). */
  fdb(dev: string): Fdb[] {
    const r = run('bridge', ['-n', this.ns, '-j', 'fdb', 'show', 'dev', dev]);
    if (r.code !== 0) return [];
    return JSON.parse(r.out || '[]') as Fdb[];
  }

  /** `ip -j neigh show dev DEV` in this host ([] when DEV is missing). */
  neigh(dev: string): Neigh[] {
    const r = run('ip', ['-n', this.ns, '-j', 'neigh', 'show', 'dev', dev]);
    if (r.code !== 0) return [];
    return JSON.parse(r.out || '[]') as Neigh[];
  }

  /** Polls a ping every `everyMs` until it answers or `withinMs` passed; the time it took, or null. */
  async pingWithin(fromNs: string, ip: string, withinMs = 2000, everyMs = 100): Promise<number | null> {
    const t0 = Date.now();
    for (;;) {
      const r = await new Promise<number>((resolve) => {
        const p = spawn('ip', ['netns', 'exec', fromNs, 'ping', '-c1', '-W1', '-q', ip], { stdio: 'ignore' });
        p.on('close', (c) => resolve(c ?? 1));
      });
      if (r === 0) return Date.now() - t0;
      if (Date.now() - t0 >= withinMs) return null;
      await sleep(everyMs);
    }
  }

  /** Polls `cond` every 100 ms for up to `withinMs`; true as soon as it holds. */
  async until(cond: () => boolean, withinMs = 2000): Promise<boolean> {
    const t0 = Date.now();
    for (;;) {
      if (cond()) return true;
      if (Date.now() - t0 >= withinMs) return false;
      await sleep(100);
    }
  }

  /** An "outside" namespace on this host: uplink <tag>x 198.51.100.1/24, outside eth0 198.51.100.2/24. */
  outsideNet(): string {
    const o = `${this.tag}o`;
    if (this.foreign.has(o)) return o;
    const up = `${this.tag}x`;
    this.foreignNetns(o);
    must(
      run('ip', ['-n', this.ns, 'link', 'add', up, 'type', 'veth', 'peer', 'name', 'eth0', 'netns', o]),
      'outside veth',
    );
    this.foreignLinks.add(up);
    this.foreignLinks.add(`${o}/eth0`);
    ipBatch(this.ns, [`addr add 198.51.100.1/24 dev ${up}`, `link set ${up} up`]);
    ipBatch(o, ['link set lo up', 'addr add 198.51.100.2/24 dev eth0', 'link set eth0 up']);
    return o;
  }
}

export class Cluster {
  readonly tag = `nco${randomBytes(3).toString('hex')}`;
  readonly switchNs = `${this.tag}sw`;
  readonly etcdNs = `${this.tag}e`;
  readonly dataDir = mkdtempSync(join(tmpdir(), 'netctl-etcd-'));
  /** Three hosts, or as many as asked (the ten-host bench). */
  readonly hosts: [ClusterHost, ClusterHost, ClusterHost, ...ClusterHost[]];
  /** With `tls`, etcd speaks mutual TLS only, and the hosts' environment names their certificate. */
  readonly certs: Certs | undefined;
  private etcd: ChildProcess | null = null;
  private etcdLog = '';
  private readonly agents = new Set<Agent>();

  private constructor(opts: { tls?: boolean; hosts?: number }) {
    this.certs = opts.tls ? makeCerts(join(this.dataDir, 'pki'), ETCD_IP) : undefined;
    must(run('ip', ['netns', 'add', this.switchNs]), 'switch netns');
    must(run('ip', ['netns', 'add', this.etcdNs]), 'etcd netns');
    ipBatch(this.switchNs, ['link set lo up', 'link add br0 type bridge', 'link set br0 up']);
    ipBatch(this.etcdNs, ['link set lo up']);
    const more = Array.from({ length: Math.max(0, (opts.hosts ?? 3) - 3) }, (_, i) => new ClusterHost(this, i + 4));
    this.hosts = [new ClusterHost(this, 1), new ClusterHost(this, 2), new ClusterHost(this, 3), ...more];
    for (const h of this.hosts) {
      this.plug(`h${h.index}`, h.ns, `${h.addr}/24`);
      h.foreignLinks.add(UPLINK); // the test's own device: netctl must leave it alone
    }
    this.plug('e0', this.etcdNs, `${ETCD_IP}/24`);
  }

  /** A veth from the switch (port `port`) to `ns` (named ul0 there), with `cidr` on it. */
  private plug(port: string, ns: string, cidr: string): void {
    must(
      run('ip', [
        '-n',
        this.switchNs,
        'link',
        'add',
        port,
        'mtu',
        '1500',
        'type',
        'veth',
        'peer',
        'name',
        UPLINK,
        'netns',
        ns,
      ]),
      `veth ${port}`,
    );
    ipBatch(this.switchNs, [`link set ${port} master br0`, `link set ${port} up`]);
    ipBatch(ns, [`addr add ${cidr} dev ${UPLINK}`, `link set ${UPLINK} mtu 1500`, `link set ${UPLINK} up`]);
  }

  /** Builds the underlay and starts etcd; resolves when etcd answers from host1. */
  static async start(opts: { tls?: boolean; hosts?: number } = {}): Promise<Cluster> {
    const c = new Cluster(opts);
    try {
      await c.etcdStart();
    } catch (e) {
      await c.destroy();
      throw e;
    }
    return c;
  }

  get host1(): ClusterHost {
    return this.hosts[0];
  }
  get host2(): ClusterHost {
    return this.hosts[1];
  }
  get host3(): ClusterHost {
    return this.hosts[2];
  }

  /** etcdctl (v3 API) against the cluster's etcd, run inside host1's namespace. */
  etcdctl(...args: string[]): Result {
    return run('env', [
      'ETCDCTL_API=3',
      'nsenter',
      `--net=/var/run/netns/${this.host1.ns}`,
      'etcdctl',
      '--endpoints',
      `${this.certs ? 'https' : 'http'}://${ETCD_IP}:2379`,
      ...(this.certs
        ? [`--cacert=${this.certs.ca}`, `--cert=${this.certs.client.cert}`, `--key=${this.certs.client.key}`]
        : []),
      '--dial-timeout=1s',
      '--command-timeout=2s',
      ...args,
    ]);
  }

  etcdHealthy(): boolean {
    return this.etcdctl('endpoint', 'health').code === 0;
  }

  /** Every key and value in etcd, sorted, as comparable text (throws when etcd does not answer). */
  keyspace(): string {
    const r = must(this.etcdctl('get', '', '--prefix', '-w', 'json'), 'etcdctl get');
    const kvs = (JSON.parse(r.out) as { kvs?: Array<{ key: string; value?: string }> }).kvs ?? [];
    return kvs
      .map((kv) => `${Buffer.from(kv.key, 'base64').toString()}=${Buffer.from(kv.value ?? '', 'base64').toString()}`)
      .sort()
      .join('\n');
  }

  /**
   * Starts etcd on the same data dir (a restart keeps the keyspace) and waits until it answers;
   * with TLS, on the server certificate given (certs.server by default).
   */
  async etcdStart(server = this.certs?.server): Promise<void> {
    if (this.etcd) return;
    const url = (port: number) => `http://${ETCD_IP}:${port}`;
    const client = `${this.certs ? 'https' : 'http'}://${ETCD_IP}:2379`;
    const tls = this.certs
      ? [
          '--client-cert-auth',
          '--trusted-ca-file',
          this.certs.ca,
          '--cert-file',
          server?.cert ?? '',
          '--key-file',
          server?.key ?? '',
        ]
      : [];
    const p = spawn(
      'nsenter',
      [
        `--net=/var/run/netns/${this.etcdNs}`,
        'etcd',
        '--name',
        'e',
        '--data-dir',
        this.dataDir,
        '--listen-client-urls',
        client,
        '--advertise-client-urls',
        client,
        ...tls,
        '--listen-peer-urls',
        url(2380),
        '--initial-advertise-peer-urls',
        url(2380),
        '--initial-cluster',
        `e=${url(2380)}`,
        '--initial-cluster-state',
        'new',
        '--log-level',
        'warn',
        '--logger',
        'zap',
      ],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    this.etcd = p;
    const keep = (d: Buffer) => {
      this.etcdLog = (this.etcdLog + d.toString()).slice(-8000);
    };
    p.stdout?.on('data', keep);
    p.stderr?.on('data', keep);
    p.on('exit', () => {
      if (this.etcd === p) this.etcd = null;
    });
    const t0 = Date.now();
    while (!this.etcdHealthy()) {
      if (this.etcd !== p) throw new Error(`etcd exited before answering:\n${this.etcdLog}`);
      if (Date.now() - t0 > 20_000) throw new Error(`etcd did not answer within 20 s:\n${this.etcdLog}`);
      await sleep(100);
    }
  }

  /** Stops etcd (SIGTERM; SIGKILL for a crash) and waits until the process is gone. */
  async etcdStop(signal: NodeJS.Signals = 'SIGTERM'): Promise<void> {
    const p = this.etcd;
    if (!p) return;
    const gone = new Promise<void>((resolve) => p.once('exit', () => resolve()));
    p.kill(signal);
    const timer = setTimeout(() => p.kill('SIGKILL'), 5000);
    await gone;
    clearTimeout(timer);
    this.etcd = null;
  }

  etcdRunning(): boolean {
    return this.etcd !== null;
  }

  /** Cuts a host off the underlay: its switch port goes down (the host's own config is untouched). */
  partition(h: ClusterHost): void {
    must(run('ip', ['-n', this.switchNs, 'link', 'set', `h${h.index}`, 'down']), 'partition');
  }

  /**
   * Brings the switch port back up; resolves once the host reaches etcd over the underlay again
   * (the kernel's link watcher takes up to a second to report the carrier), at most 5 s.
   */
  async heal(h: ClusterHost): Promise<void> {
    must(run('ip', ['-n', this.switchNs, 'link', 'set', `h${h.index}`, 'up']), 'heal');
    if (!(await h.until(() => this.underlayPing(h.ns, ETCD_IP), 5000)))
      throw new Error(`${h.nodeName} does not reach etcd 5 s after heal`);
  }

  /** One ping over the underlay from a host (or the etcd namespace) to an underlay address. */
  underlayPing(fromNs: string, ip: string): boolean {
    return run('ip', ['netns', 'exec', fromNs, 'ping', '-c1', '-W1', '-q', ip]).code === 0;
  }

  /** Runs `netctl agent` in the host's namespace with the host's environment. */
  startAgent(h: ClusterHost): Agent {
    const p = spawn('nsenter', [`--net=/var/run/netns/${h.ns}`, BIN, '--root', h.root, 'agent'], {
      env: { ...process.env, LC_ALL: 'C', ...h.env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let log = '';
    let exited = false;
    const exit = new Promise<void>((resolve) =>
      p.once('exit', () => {
        exited = true;
        resolve();
      }),
    );
    p.stdout?.on('data', (d) => {
      log = (log + d).slice(-8000);
    });
    p.stderr?.on('data', (d) => {
      log = (log + d).slice(-8000);
    });
    const agent: Agent = {
      host: h,
      pid: p.pid,
      output: () => log,
      alive: () => !exited,
      kill: async (signal: NodeJS.Signals = 'SIGTERM') => {
        if (!exited) {
          p.kill(signal);
          const timer = setTimeout(() => p.kill('SIGKILL'), 2000);
          await exit;
          clearTimeout(timer);
        }
        this.agents.delete(agent);
      },
    };
    this.agents.add(agent);
    return agent;
  }

  async stopAgents(): Promise<void> {
    await Promise.all([...this.agents].map((a) => a.kill()));
  }

  /** The namespaces the harness itself made (the rest with the tag belong to netctl). */
  harnessNamespaces(): Set<string> {
    const s = new Set([this.switchNs, this.etcdNs]);
    for (const h of this.hosts) {
      s.add(h.ns);
      for (const f of h.foreign) s.add(f);
    }
    return s;
  }

  /** Every netns of this run that exists now. */
  namespaces(): string[] {
    return existsSync('/var/run/netns')
      ? readdirSync('/var/run/netns')
          .filter((n) => n.startsWith(this.tag))
          .sort()
      : [];
  }

  /**
   * Removes every netctl object through netctl (agents first, etcd started if it was stopped):
   * on each host its sandboxes (rm -f), then every non-predefined network any host lists
   * (overlays once, then each host's local ones, netctl_gwbridge included), then `restore` so
   * each host converges. Returns what is left: netns with the tag that the harness did not
   * make, links in a host besides lo, the underlay and the harness's own, and /etc/netns dirs.
   */
  async removeAll(): Promise<string[]> {
    await this.stopAgents();
    const problems: string[] = [];
    if (!this.etcd) {
      try {
        await this.etcdStart();
      } catch (e) {
        problems.push(`etcd restart for cleanup: ${(e as Error).message}`);
      }
    }
    for (const h of this.hosts) {
      if (!existsSync(join(h.root, 'store.json'))) continue;
      const sbs = h.netctl('sandbox', 'ls', '--format', '{{.Name}}');
      const names = sbs.out.split('\n').filter(Boolean);
      if (names.length) {
        const r = h.netctl('sandbox', 'rm', '-f', ...names);
        if (r.code !== 0) problems.push(`${h.nodeName}: sandbox rm -f: ${r.err.trim()}`);
      }
    }
    for (const h of this.hosts) {
      if (!existsSync(join(h.root, 'store.json'))) continue;
      const ls = h.netctl('ls', '--format', '{{.Name}}');
      const nets = ls.out.split('\n').filter((n) => n && !PREDEFINED.has(n));
      if (nets.length) {
        const r = h.netctl('rm', '-f', ...nets);
        if (r.code !== 0) problems.push(`${h.nodeName}: rm -f ${nets.join(' ')}: ${r.err.trim()}`);
      }
    }
    for (const h of this.hosts) {
      if (!existsSync(join(h.root, 'store.json'))) continue;
      const r = h.netctl('restore');
      if (r.code !== 0) problems.push(`${h.nodeName}: restore: ${r.err.trim()}`);
    }
    return [...problems, ...this.leaks()];
  }

  /** What would leak (see removeAll). */
  leaks(): string[] {
    const out: string[] = [];
    const mine = this.harnessNamespaces();
    for (const n of this.namespaces()) if (!mine.has(n)) out.push(`netns ${n}`);
    for (const h of this.hosts) {
      for (const l of h.links()) {
        if (l.ifname === 'lo' || l.ifname === UPLINK || h.foreignLinks.has(l.ifname)) continue;
        out.push(`${h.nodeName}: link ${l.ifname}`);
      }
      for (const f of h.foreign) {
        for (const l of h.links(f))
          if (l.ifname !== 'lo' && !h.foreignLinks.has(`${f}/${l.ifname}`))
            out.push(`${h.nodeName}: link ${l.ifname} in ${f}`);
      }
    }
    const hostDirs = new Set(this.hosts.map((h) => h.ns)); // each host's resolv.conf (test/helpers/host.ts)
    if (existsSync('/etc/netns'))
      for (const n of readdirSync('/etc/netns').filter((n) => n.startsWith(this.tag) && !hostDirs.has(n)))
        out.push(`/etc/netns/${n}`);
    for (const h of this.hosts) for (const pid of h.resolverPids()) out.push(`${h.nodeName}: resolver pid ${pid}`);
    return out;
  }

  /** Kills agents and etcd, deletes every namespace and dir of this run. Idempotent, never throws. */
  async destroy(): Promise<void> {
    for (const h of this.hosts ?? []) h.stopServers();
    await this.stopAgents().catch(() => undefined);
    await this.etcdStop('SIGKILL').catch(() => undefined);
    for (const h of this.hosts ?? []) for (const pid of h.resolverPids()) run('kill', [pid]);
    for (const n of this.namespaces()) run('ip', ['netns', 'del', n]);
    if (existsSync('/etc/netns'))
      for (const n of readdirSync('/etc/netns').filter((n) => n.startsWith(this.tag)))
        rmSync(`/etc/netns/${n}`, { recursive: true, force: true });
    for (const h of this.hosts ?? []) rmSync(h.root, { recursive: true, force: true });
    rmSync(this.dataDir, { recursive: true, force: true });
  }
}

/** A certificate and its key, as files. */
export interface Pair {
  cert: string;
  key: string;
}

/** A CA, etcd's server certificate, a client's, and a client's of another CA (unknown to etcd). */
export interface Certs {
  ca: string;
  server: Pair;
  /** A server certificate for server authentication only (etcd's gateway cannot use it). */
  serverOnly: Pair;
  client: Pair;
  /** Signed by another CA. */
  stranger: Pair;
  otherCa: string;
  /** NETCTL_CLUSTER_STORE_OPTS for a client pair (and a CA file). */
  opts(p: Pair, ca?: string): string;
}

/** Makes the certificates with openssl in `dir` (inside the test's own data dir). */
export function makeCerts(dir: string, serverIp: string): Certs {
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const f = (n: string) => join(dir, n);
  const ssl = (...args: string[]) => must(run('openssl', args), `openssl ${args[0]}`);
  const ca = (name: string) => {
    ssl(
      'req',
      '-x509',
      '-newkey',
      'ec',
      '-pkeyopt',
      'ec_paramgen_curve:prime256v1',
      '-nodes',
      '-days',
      '2',
      '-subj',
      `/CN=${name}`,
      '-keyout',
      f(`${name}.key`),
      '-out',
      f(`${name}.pem`),
    );
    return f(`${name}.pem`);
  };
  const leaf = (name: string, caName: string, ext: string): Pair => {
    writeFileSync(f(`${name}.ext`), ext);
    ssl(
      'req',
      '-newkey',
      'ec',
      '-pkeyopt',
      'ec_paramgen_curve:prime256v1',
      '-nodes',
      '-subj',
      `/CN=${name}`,
      '-keyout',
      f(`${name}.key`),
      '-out',
      f(`${name}.csr`),
    );
    ssl(
      'x509',
      '-req',
      '-in',
      f(`${name}.csr`),
      '-CA',
      f(`${caName}.pem`),
      '-CAkey',
      f(`${caName}.key`),
      '-CAcreateserial',
      '-days',
      '2',
      '-extfile',
      f(`${name}.ext`),
      '-out',
      f(`${name}.pem`),
    );
    chmodSync(f(`${name}.key`), 0o600);
    return { cert: f(`${name}.pem`), key: f(`${name}.key`) };
  };
  const root = ca('ca');
  const otherCa = ca('other-ca');
  // For servers and clients, as kubeadm and etcd's own guide make them: etcd's JSON gateway dials
  // etcd's gRPC server with it. serverOnly is not, and leaves netctl the gRPC way only.
  const server = leaf('server', 'ca', `subjectAltName=IP:${serverIp}\nextendedKeyUsage=serverAuth,clientAuth\n`);
  const serverOnly = leaf('server-only', 'ca', `subjectAltName=IP:${serverIp}\nextendedKeyUsage=serverAuth\n`);
  const client = leaf('client', 'ca', 'extendedKeyUsage=clientAuth\n');
  const stranger = leaf('stranger', 'other-ca', 'extendedKeyUsage=clientAuth\n');
  return {
    ca: root,
    server,
    serverOnly,
    client,
    stranger,
    otherCa,
    opts: (p, caFile = root) => `kv.cacertfile=${caFile},kv.certfile=${p.cert},kv.keyfile=${p.key}`,
  };
}
