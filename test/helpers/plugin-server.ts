// A small libnetwork plugin for the e2e tests: node:http on a unix socket, a network driver and
// an IPAM driver in one. It records every call, and makes real devices in the test host
// namespace (never the machine's): CreateNetwork makes a bridge, Join a veth pair whose host
// end is enslaved to it and whose other end netctl moves into the sandbox. Faults: an `Err`
// answer at a chosen method, or the plugin dying in the middle of one (no answer, socket gone).
import { spawnSync } from 'node:child_process';
import { existsSync, unlinkSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';

export interface Call {
  method: string;
  body: Record<string, unknown>;
}

export interface PluginOptions {
  /** The test host namespace the devices are made in. */
  hostNs: string;
  /** Short unique prefix for device names (≤ 9 bytes). */
  tag: string;
  scope?: 'local' | 'global';
  implements?: string[];
  /** Join's Gateway: the bridge's address is given to the bridge when set. */
  gateway?: { ip: string; prefix: number };
  staticRoutes?: Array<{ Destination: string; RouteType: number; NextHop?: string }>;
  /** IPAM: the pool handed out when RequestPool asks for none. */
  pool?: string;
}

const MT = 'application/vnd.docker.plugins.v1.2+json';

function ip(ns: string, ...args: string[]): { code: number; err: string } {
  const r = spawnSync('ip', ['-n', ns, ...args], { encoding: 'utf8' });
  return { code: r.status ?? 1, err: r.stderr ?? '' };
}

export class PluginServer {
  readonly calls: Call[] = [];
  /** Methods (without the `NetworkDriver.` prefix) answered with an Err. */
  readonly failOn = new Set<string>();
  /** A method whose request kills the plugin: no answer, and every later request is dropped too, until `revive`. */
  dieOn: string | undefined;
  dead = false;
  /** Headers of the last request, to check the media type. */
  lastHeaders: IncomingMessage['headers'] = {};
  private server: Server | undefined;
  private n = 0;
  private readonly bridges = new Map<string, string>(); // NetworkID -> bridge
  private readonly veths = new Map<string, { src: string; host: string }>(); // EndpointID -> names
  private readonly addrs = new Map<string, Set<string>>(); // PoolID -> addresses given out

  constructor(
    readonly socket: string,
    readonly opts: PluginOptions,
  ) {}

  start(): Promise<void> {
    if (existsSync(this.socket)) unlinkSync(this.socket);
    this.server = createServer((req, res) => this.handle(req, res));
    return new Promise((resolve) => this.server?.listen(this.socket, resolve));
  }

  /** A killed plugin started again, with the state it keeps. */
  revive(): void {
    this.dead = false;
    this.dieOn = undefined;
  }

  /** Stops listening and removes the socket: the plugin is uninstalled. */
  stop(): Promise<void> {
    const s = this.server;
    this.server = undefined;
    if (existsSync(this.socket)) unlinkSync(this.socket);
    if (!s) return Promise.resolve();
    s.closeAllConnections();
    return new Promise((resolve) => s.close(() => resolve()));
  }

  /** Method names of the calls so far (prefix left out), and forget them. */
  take(): string[] {
    const out = this.calls.map((c) => c.method.replace(/^(NetworkDriver|IpamDriver)\./, ''));
    this.calls.length = 0;
    return out;
  }

  /** Devices this plugin still holds in the test host. */
  held(): string[] {
    return [...this.bridges.values(), ...[...this.veths.values()].map((v) => v.host)];
  }

  private handle(req: IncomingMessage, res: ServerResponse): void {
    let text = '';
    req.setEncoding('utf8');
    req.on('data', (c: string) => (text += c));
    req.on('end', () => {
      const method = (req.url ?? '').replace(/^\//, '');
      const body = (text ? JSON.parse(text) : {}) as Record<string, unknown>;
      this.calls.push({ method, body });
      this.lastHeaders = req.headers;
      const short = method.replace(/^(NetworkDriver|IpamDriver)\./, '');
      if (this.dieOn === short) this.dead = true;
      if (this.dead) {
        // A killed process: the socket file stays, the connection breaks without an answer.
        req.socket.destroy();
        return;
      }
      let answer: Record<string, unknown>;
      try {
        answer = this.failOn.has(short) ? { Err: `injected failure at ${short}` } : this.answer(method, body);
      } catch (e) {
        answer = { Err: (e as Error).message };
      }
      res.writeHead(200, { 'Content-Type': MT });
      res.end(JSON.stringify(answer));
    });
  }

  private answer(method: string, b: Record<string, unknown>): Record<string, unknown> {
    const { hostNs: ns, tag } = this.opts;
    const must = (...args: string[]) => {
      const r = ip(ns, ...args);
      if (r.code !== 0) throw new Error(`ip ${args.join(' ')}: ${r.err.trim()}`);
    };
    const nid = String(b['NetworkID'] ?? '');
    const eid = String(b['EndpointID'] ?? '');
    switch (method) {
      case 'Plugin.Activate':
        return { Implements: this.opts.implements ?? ['NetworkDriver', 'IpamDriver'] };
      case 'NetworkDriver.GetCapabilities':
        return { Scope: this.opts.scope ?? 'local', ConnectivityScope: this.opts.scope ?? 'local' };
      case 'NetworkDriver.CreateNetwork': {
        const br = `${tag}b${this.n++}`;
        must('link', 'add', br, 'type', 'bridge');
        if (this.opts.gateway) must('addr', 'add', `${this.opts.gateway.ip}/${this.opts.gateway.prefix}`, 'dev', br);
        must('link', 'set', br, 'up');
        this.bridges.set(nid, br);
        return {};
      }
      case 'NetworkDriver.DeleteNetwork': {
        const br = this.bridges.get(nid);
        if (!br) throw new Error(`no network ${nid}`);
        ip(ns, 'link', 'del', br);
        this.bridges.delete(nid);
        return {};
      }
      case 'NetworkDriver.CreateEndpoint': {
        if (!this.bridges.has(nid)) throw new Error(`no network ${nid}`);
        const k = this.n++;
        this.veths.set(eid, { src: `${tag}s${k}`, host: `${tag}v${k}` });
        return {};
      }
      case 'NetworkDriver.Join': {
        const v = this.veths.get(eid);
        const br = this.bridges.get(nid);
        if (!v || !br) throw new Error(`no endpoint ${eid}`);
        must('link', 'add', v.host, 'type', 'veth', 'peer', 'name', v.src);
        must('link', 'set', v.host, 'master', br, 'up');
        return {
          InterfaceName: { SrcName: v.src, DstPrefix: 'eth' },
          ...(this.opts.gateway ? { Gateway: this.opts.gateway.ip } : {}),
          ...(this.opts.staticRoutes ? { StaticRoutes: this.opts.staticRoutes } : {}),
        };
      }
      case 'NetworkDriver.Leave':
        return {};
      case 'NetworkDriver.DeleteEndpoint': {
        const v = this.veths.get(eid);
        if (!v) throw new Error(`no endpoint ${eid}`);
        ip(ns, 'link', 'del', v.host); // gone already when the sandbox side was deleted
        this.veths.delete(eid);
        return {};
      }
      case 'NetworkDriver.ProgramExternalConnectivity':
      case 'NetworkDriver.RevokeExternalConnectivity':
        return {};
      case 'IpamDriver.GetCapabilities':
        return { RequiresMACAddress: false };
      case 'IpamDriver.GetDefaultAddressSpaces':
        return { LocalDefaultAddressSpace: 'plugin-local', GlobalDefaultAddressSpace: 'plugin-global' };
      case 'IpamDriver.RequestPool': {
        const pool = String(b['Pool'] || this.opts.pool || '');
        if (!pool) throw new Error('no pool to give');
        const id = `pool-${pool}`;
        if (this.addrs.has(id)) throw new Error(`pool ${pool} in use`);
        this.addrs.set(id, new Set());
        return { PoolID: id, Pool: pool, Data: {} };
      }
      case 'IpamDriver.ReleasePool':
        if (!this.addrs.delete(String(b['PoolID']))) throw new Error(`no pool ${String(b['PoolID'])}`);
        return {};
      case 'IpamDriver.RequestAddress': {
        const id = String(b['PoolID']);
        const used = this.addrs.get(id);
        if (!used) throw new Error(`no pool ${id}`);
        const [net, len] = id.slice('pool-'.length).split('/');
        const base = (net ?? '').split('.').map(Number);
        const want = String(b['Address'] ?? '');
        const opts = (b['Options'] ?? {}) as Record<string, string>;
        // Gateway requests get .1; the rest count down from .200 (an order netctl would never pick).
        let a = want;
        if (!a) {
          for (let h = opts['RequestAddressType'] === 'com.docker.network.gateway' ? 1 : 200; h > 0; h--) {
            const c = `${base[0]}.${base[1]}.${base[2]}.${h}`;
            if (!used.has(c)) {
              a = c;
              break;
            }
          }
        }
        if (used.has(a)) throw new Error(`address ${a} in use`);
        used.add(a);
        return { Address: `${a}/${len}`, Data: {} };
      }
      case 'IpamDriver.ReleaseAddress': {
        const used = this.addrs.get(String(b['PoolID']));
        if (!used?.delete(String(b['Address']))) throw new Error(`address ${String(b['Address'])} not given out`);
        return {};
      }
      default:
        throw new Error(`unknown method ${method}`);
    }
  }
}
