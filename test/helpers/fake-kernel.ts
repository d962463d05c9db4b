// A fake Runner that models the slice of the kernel netctl touches (netns, links, addresses,
// routes), so engine tests can check exact command sequences and that a failure injected at
// any line leaves the model exactly as it was.
import { rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { RunOptions, RunResult, Runner } from '../../src/kernel/runner.js';

interface Link {
  ns: string;
  name: string;
  kind: string;
  peer?: string;
  master?: string;
  up: boolean;
  addrs: string[];
  group?: string;
  /** macvlan: the parent's key (`ns/name`), its mode and the MAC it was given. */
  parent?: string;
  mode?: string;
  address?: string;
}

export interface Call {
  file: string;
  args: string[];
  input?: string;
}

export class FakeKernel implements Runner {
  calls: Call[] = [];
  netns = new Set<string>();
  links = new Map<string, Link>();
  routes = new Map<string, string[]>();
  /** Routing rules per namespace (`ip rule`), as their text after `add`. */
  rules = new Map<string, Set<string>>();
  hostRoutes: Array<{ dst: string; dev?: string }> = [];
  /** Fail the n-th mutating line (0-based, counted across calls); undefined: never. */
  failLine: number | undefined;
  /** What the failing line reports (after "RTNETLINK answers: "). */
  failMessage = 'injected failure';
  linesSeen = 0;
  /** `ip -j addr show` lists addresses (MTU 1500); off, it answers [] as engine tests expect. */
  modelAddrs = false;
  /** `bridge …` succeeds (recorded only); off, it is "not modelled". */
  modelFdb = false;

  /** Mirrors named netns as files here, as /var/run/netns does. */
  constructor(readonly netnsDir?: string) {}

  private key(ns: string, name: string) {
    return `${ns}/${name}`;
  }

  /** A device netctl did not make (an uplink, the host's lo), as a test's starting state. */
  addLink(ns: string, name: string, kind = 'dummy', extra: { master?: string; up?: boolean } = {}): void {
    if (ns && !this.netns.has(ns)) throw new Error(`fake kernel: no netns ${ns}`);
    this.links.set(this.key(ns, name), {
      ns,
      name,
      kind,
      up: extra.up ?? true,
      addrs: [],
      ...(extra.master ? { master: extra.master } : {}),
    });
  }

  /** A canonical dump of the modelled state, for before/after comparisons. */
  dump(): string {
    return JSON.stringify({
      netns: [...this.netns].sort(),
      links: [...this.links.values()]
        .map((l) => ({ ...l, addrs: [...l.addrs].sort() }))
        .sort((a, b) => (a.ns + a.name < b.ns + b.name ? -1 : 1)),
      routes: [...this.routes.entries()].sort(),
      rules: [...this.rules.entries()]
        .filter(([, r]) => r.size)
        .map(([ns, r]) => `${ns}: ${[...r].sort().join('; ')}`)
        .sort(),
    });
  }

  /** sysctls set through the Runner, as /proc/sys would hold them. */
  sysctls = new Map<string, string>();

  async sysctl(key: string, value: string): Promise<boolean> {
    const changed = this.sysctls.get(key) !== value;
    this.sysctls.set(key, value);
    return changed;
  }

  mutating(): Call[] {
    return this.calls.filter((c) => !c.args.includes('-j'));
  }

  async run(file: string, args: string[], options: RunOptions = {}): Promise<RunResult> {
    // A process started before its input is known acts once the input comes; cancelled, never.
    const opts = { ...options, input: await options.input };
    if (options.input instanceof Promise && opts.input === '') return { stdout: '', stderr: '', exitCode: 0 };
    this.calls.push({ file, args, ...(opts.input !== undefined ? { input: opts.input } : {}) });
    // `bridge fdb` (overlay peers): recorded, not modelled.
    if (file === 'bridge' && this.modelFdb) return { stdout: '[]', stderr: '', exitCode: 0 };
    if (file !== 'ip') return { stdout: '', stderr: `${file}: not modelled`, exitCode: 1 };
    const a = [...args];
    let ns = '';
    let force = false;
    let batch = false;
    const flags: string[] = [];
    while (a[0]?.startsWith('-')) {
      const f = a.shift() ?? '';
      if (f === '-n') ns = a.shift() ?? '';
      else if (f === '-force') force = true;
      else if (f === '-batch') {
        batch = true;
        a.shift();
      } else flags.push(f);
    }
    if (ns && !this.netns.has(ns))
      return { stdout: '', stderr: `Cannot open network namespace "${ns}": No such file or directory`, exitCode: 1 };
    if (flags.includes('-j')) return this.read(ns, a, flags);
    const lines = batch
      ? (opts.input ?? '')
          .split('\n')
          .filter(Boolean)
          .map((l) => l.split(' '))
      : [a];
    const errs: string[] = [];
    for (const [i, l] of lines.entries()) {
      let err: string | null;
      if (this.linesSeen++ === this.failLine) err = `RTNETLINK answers: ${this.failMessage}`;
      else err = this.apply(ns, l);
      if (err) {
        errs.push(err, `Command failed -:${i + 1}`);
        if (!force) break;
      }
    }
    return { stdout: '', stderr: errs.join('\n'), exitCode: errs.length ? 1 : 0 };
  }

  private read(ns: string, a: string[], flags: string[]): RunResult {
    if (a[0] === 'link') {
      const out = [...this.links.values()]
        .filter((l) => l.ns === ns)
        .map((l) => ({
          ifname: l.name,
          link_type: l.kind === 'loopback' ? 'loopback' : 'ether',
          ...(l.kind !== 'loopback' && l.kind !== 'dummy' ? { linkinfo: { info_kind: l.kind } } : {}),
          ...(l.master ? { master: l.master } : {}),
          ...(l.up ? { flags: ['UP'] } : {}),
        }));
      return { stdout: JSON.stringify(out), stderr: '', exitCode: 0 };
    }
    if (a[0] === 'addr' && this.modelAddrs) {
      const out = [...this.links.values()]
        .filter((l) => l.ns === ns)
        .map((l) => ({
          ifname: l.name,
          mtu: 1500,
          addr_info: l.addrs.map((c) => ({ local: c.split('/')[0], prefixlen: Number(c.split('/')[1]) })),
        }));
      return { stdout: JSON.stringify(out), stderr: '', exitCode: 0 };
    }
    if (a[0] === 'rule') {
      const rules = [...(this.rules.get('') ?? [])].map((r) => {
        const w = r.split(' ');
        return {
          src: w[w.indexOf('from') + 1],
          table: w[w.indexOf('lookup') + 1],
          priority: Number(w[w.indexOf('pref') + 1]),
        };
      });
      return { stdout: JSON.stringify(rules), stderr: '', exitCode: 0 };
    }
    if (a[0] === 'route')
      return { stdout: JSON.stringify(flags.includes('-6') ? [] : this.hostRoutes), stderr: '', exitCode: 0 };
    return { stdout: '[]', stderr: '', exitCode: 0 };
  }

  private apply(ns: string, l: string[]): string | null {
    const [obj, verb] = l;
    const gone = (n: string) => `Cannot find device "${n}"`;
    if (obj === 'netns') {
      const name = l[2] ?? '';
      if (verb === 'add') {
        if (this.netns.has(name)) return `Cannot create namespace file "/var/run/netns/${name}": File exists`;
        this.netns.add(name);
        this.links.set(this.key(name, 'lo'), { ns: name, name: 'lo', kind: 'loopback', up: false, addrs: [] });
        if (this.netnsDir) writeFileSync(join(this.netnsDir, name), '');
        return null;
      }
      if (verb === 'del') {
        if (!this.netns.has(name))
          return `Cannot remove namespace file "/var/run/netns/${name}": No such file or directory`;
        this.netns.delete(name);
        if (this.netnsDir) rmSync(join(this.netnsDir, name), { force: true });
        for (const link of [...this.links.values()]) if (link.ns === name) this.delLink(link);
        this.routes.delete(name);
        return null;
      }
    }
    if (obj === 'link') {
      if (verb === 'add' && l[2] === 'link') return this.addMacvlan(ns, l);
      if (verb === 'add') {
        const nameIdx = l[2] === 'name' ? 3 : 2;
        const name = l[nameIdx] ?? '';
        if (this.links.has(this.key(ns, name))) return 'RTNETLINK answers: File exists';
        const kind = l[l.indexOf('type') + 1] ?? '';
        const link: Link = { ns, name, kind, up: false, addrs: [] };
        if (kind === 'veth') {
          const pi = l.indexOf('peer');
          const peerName = l[l.indexOf('name', pi) + 1] ?? '';
          const ni = l.indexOf('netns', pi);
          const peerNs = ni > 0 ? (l[ni + 1] ?? '') : ns;
          if (!this.netns.has(peerNs) && peerNs !== '') return `Invalid netns value "${peerNs}"`;
          if (this.links.has(this.key(peerNs, peerName))) return 'RTNETLINK answers: File exists';
          link.peer = this.key(peerNs, peerName);
          this.links.set(link.peer, {
            ns: peerNs,
            name: peerName,
            kind,
            peer: this.key(ns, name),
            up: false,
            addrs: [],
          });
        }
        this.links.set(this.key(ns, name), link);
        return null;
      }
      if (verb === 'del' && l[2] === 'group') {
        const members = [...this.links.values()].filter((x) => x.ns === ns && x.group === l[3]);
        if (members.length === 0) return 'RTNETLINK answers: No such device';
        members.forEach((m) => this.delLink(m));
        return null;
      }
      const name = l[2] ?? '';
      const link = this.links.get(this.key(ns, name));
      if (!link) return gone(name);
      if (verb === 'del') {
        this.delLink(link);
        return null;
      }
      if (verb === 'set') {
        const mi = l.indexOf('master');
        if (mi > 0) {
          if (!this.links.has(this.key(ns, l[mi + 1] ?? ''))) return gone(l[mi + 1] ?? '');
          link.master = l[mi + 1] ?? '';
        }
        if (l.includes('up')) link.up = true;
        const gi = l.indexOf('group');
        if (gi > 0) link.group = l[gi + 1] ?? '';
        return null;
      }
    }
    if (obj === 'addr' || obj === 'route') {
      const dev = l[l.indexOf('dev') + 1] ?? '';
      const link = this.links.get(this.key(ns, dev));
      if (!link) return gone(dev);
      if (obj === 'addr') link.addrs.push(l[2] ?? '');
      else
        this.routes.set(ns, [
          ...(this.routes.get(ns) ?? []).filter((r) => !r.startsWith(`${l[2]} `)),
          l.slice(2).join(' '),
        ]);
      return null;
    }
    if (obj === 'rule' && (verb === 'add' || verb === 'del')) {
      const rules = this.rules.get(ns) ?? new Set<string>();
      this.rules.set(ns, rules);
      const text = l.slice(2).join(' ');
      if (verb === 'add') {
        if (rules.has(text)) return 'RTNETLINK answers: File exists';
        rules.add(text);
      } else if (!rules.delete(text)) return 'RTNETLINK answers: No such file or directory';
      return null;
    }
    return `unknown command: ${l.join(' ')}`;
  }

  /**
   * `link add link PARENT name X [mtu M] [address MAC] [netns NS] type macvlan mode MODE`: the
   * parent is looked up in the namespace the command runs in, the child is made in NS.
   */
  private addMacvlan(ns: string, l: string[]): string | null {
    const at = (w: string) => {
      const i = l.indexOf(w, 3);
      return i > 0 ? l[i + 1] : undefined;
    };
    const parentName = l[3] ?? '';
    const name = at('name') ?? '';
    if (at('type') !== 'macvlan') return `unknown command: ${l.join(' ')}`;
    const mode = at('mode') ?? 'vepa';
    if (!['private', 'vepa', 'bridge', 'passthru', 'source'].includes(mode))
      return `Error: argument "${mode}" is wrong: mode`;
    const parent = this.links.get(this.key(ns, parentName));
    if (!parent) return `Cannot find device "${parentName}"`;
    const ni = l.indexOf('netns', 3);
    const target = ni > 0 ? (l[ni + 1] ?? '') : ns;
    if (ni > 0 && !this.netns.has(target)) return `Invalid netns value "${target}"`;
    if (this.links.has(this.key(target, name))) return 'RTNETLINK answers: File exists';
    const address = at('address');
    this.links.set(this.key(target, name), {
      ns: target,
      name,
      kind: 'macvlan',
      up: false,
      addrs: [],
      parent: this.key(ns, parentName),
      mode,
      ...(address ? { address } : {}),
    });
    return null;
  }

  private delLink(link: Link): void {
    const victims = [link, ...(link.peer ? [this.links.get(link.peer)] : [])].filter((x): x is Link => x !== undefined);
    // A device's macvlan children go with it.
    const keys = new Set(victims.map((v) => this.key(v.ns, v.name)));
    for (const child of [...this.links.values()]) if (child.parent && keys.has(child.parent)) this.delLink(child);
    for (const v of victims) {
      this.links.delete(this.key(v.ns, v.name));
      // Routes through a deleted device vanish with it.
      const rs = (this.routes.get(v.ns) ?? []).filter((r) => !` ${r} `.includes(` dev ${v.name} `));
      if (rs.length) this.routes.set(v.ns, rs);
      else this.routes.delete(v.ns);
    }
  }
}
