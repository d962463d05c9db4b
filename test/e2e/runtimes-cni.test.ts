// Real CNI runtimes with netctl as their plugin (reference §12 and §15): podman 4.3's CNI backend
// and containerd 1.6's `ctr run --cni`, each started by this file inside its test host namespace
// (helpers/runtimes.ts), attach their containers to a netctl network through the conflist
// `netctl cni conflist` prints and the `netctl-cni` link `netctl cni install` makes. Asserted
// through the kernel (`ip -j` in the container's namespace), traffic and netctl's resolver.
//
// Both runtimes write outside their instance directory, where nothing can move it:
// - libcni's cache, /var/lib/cni/results/<network>-<container id>-<ifname> (podman 4.3 and ctr);
// - ctr reads its conflist only from /etc/cni/net.d (the first file in name order) and its
//   plugins from /opt/cni/bin (Debian's build also /usr/lib/cni).
// So each describe holds an exclusive lock (LOCK) while it has files there, names them after its
// tag, removes exactly what it made (files it checks carry its names; a directory only if it made
// it and it is empty again), and asserts that nothing of it is left. The ctr tests skip (with the
// reason) when the machine's own CNI setup is in the way: a config that would sort before theirs
// (00-<tag>.conflist), a containerd of the machine's (a CRI one would take the conflist for its
// pods), or a netctl-cni in /opt/cni/bin or /usr/lib/cni that is not a link to this build's.
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import {
  existsSync,
  lstatSync,
  mkdirSync,
  readFileSync,
  readdirSync,
  readlinkSync,
  rmSync,
  rmdirSync,
  writeFileSync,
} from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { BIN, TestHost, isRoot, run } from '../helpers/host.js';
import {
  hasCtr,
  hasPodman,
  makeRootfs,
  startContainerd,
  startPodman,
  type Containerd,
  type Podman,
} from '../helpers/runtimes.js';

const LOCK = '/run/lock/netctl-tests-cni.lock';
const CACHE = '/var/lib/cni/results';
const CONF_DIR = '/etc/cni/net.d';
const OPT_BIN = '/opt/cni/bin';
/** What `netctl cni install` links (the netctl-cni next to the bin/netctl the tests run). */
const PLUGIN = join(dirname(BIN), 'netctl-cni');
const hasFlock = spawnSync('flock', ['--version']).status === 0;

/**
 * An exclusive flock(1) on LOCK, held by a child that lives until `release` (or until this
 * process ends: its stdin closes and the lock goes with it).
 */
async function takeLock(): Promise<() => Promise<void>> {
  const p = spawn('flock', ['-x', '-w', '600', LOCK, 'sh', '-c', 'echo locked && exec cat'], {
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  let err = '';
  p.stderr.on('data', (d) => (err += d));
  await new Promise<void>((resolve, reject) => {
    p.stdout.once('data', () => resolve());
    p.once('exit', (code) => reject(new Error(`flock ${LOCK}: exit ${code}: ${err}`)));
  });
  return () =>
    new Promise<void>((resolve) => {
      if (p.exitCode !== null || p.signalCode !== null) return resolve();
      p.once('exit', () => resolve());
      p.stdin.end();
    });
}

/** Which of these directories (parents first) do not exist yet: removed again when empty. */
const missing = (...dirs: string[]): string[] => dirs.filter((d) => !existsSync(d));

/** Removes the directories `made` (deepest first) that are empty; names those that are not. */
function removeMadeDirs(made: string[]): string[] {
  const left: string[] = [];
  for (const d of [...made].reverse()) {
    if (!existsSync(d)) continue;
    if (readdirSync(d).length === 0) rmdirSync(d);
    else left.push(`${d} (made by this test, not empty: ${readdirSync(d).join(' ')})`);
  }
  return left;
}

/** libcni's cache files of a network: `<network>-<container id>-<ifname>`. */
const cacheFiles = (network: string): string[] =>
  existsSync(CACHE) ? readdirSync(CACHE).filter((f) => f.startsWith(`${network}-`)) : [];

/** Removes the cache files of `network` (a name carrying the test's tag); returns what it removed. */
function removeCacheFiles(h: TestHost, network: string): string[] {
  assert.ok(network.startsWith(`${h.tag}-`), `${network}: not a network of this test`);
  const gone = cacheFiles(network).map((f) => join(CACHE, f));
  for (const f of gone) {
    assert.ok(basename(f).includes(h.tag) && dirname(f) === CACHE, f);
    rmSync(f);
  }
  return gone;
}

/** Everything under /var/lib/cni, /etc/cni, /opt/cni and /var/run/netns that names the test's tag. */
function machineLeftovers(h: TestHost): string[] {
  const out: string[] = [];
  const walk = (d: string): void => {
    if (!existsSync(d)) return;
    for (const e of readdirSync(d, { withFileTypes: true })) {
      const p = join(d, e.name);
      if (p.includes(h.tag)) out.push(p);
      if (e.isDirectory()) walk(p);
    }
  };
  for (const d of ['/var/lib/cni', '/etc/cni', '/opt/cni']) walk(d);
  for (const n of readdirSync('/var/run/netns')) if (n.includes(h.tag) && n !== h.ns) out.push(`/var/run/netns/${n}`);
  return out;
}

/** `nslookup NAME. SERVER` from inside a namespace (busybox tries search domains without the dot). */
function lookup(netns: string, name: string, server: string): string {
  const r = run('nsenter', [`--net=${netns}`, 'busybox', 'nslookup', `${name}.`, server]);
  return nslookupAnswer(r.out);
}
const nslookupAnswer = (out: string): string =>
  /Address:\s*(\d+\.\d+\.\d+\.\d+)\s*$/m.exec(out.split(/Name:/)[1] ?? '')?.[1] ?? '';

interface IpLink {
  ifname: string;
  ifindex: number;
  link_index?: number;
  address: string;
  addr_info: Array<{ family: string; local: string; prefixlen: number }>;
}

/** `ip -j addr` inside a process's network namespace. */
function addrsOf(pid: number): IpLink[] {
  const r = run('nsenter', [`--net=/proc/${pid}/ns/net`, 'ip', '-j', 'addr', 'show']);
  assert.equal(r.code, 0, r.err);
  return JSON.parse(r.out) as IpLink[];
}

/** The container's eth0: its IPv4 address (CIDR) and its MAC. */
function eth0Of(pid: number): { cidr: string; ip: string; mac: string; peerIndex: number } {
  const eth0 = addrsOf(pid).find((l) => l.ifname === 'eth0');
  const a = eth0?.addr_info.find((x) => x.family === 'inet');
  assert.ok(eth0 && a, `eth0 with an IPv4 address in the netns of pid ${pid}`);
  return { cidr: `${a.local}/${a.prefixlen}`, ip: a.local, mac: eth0.address, peerIndex: eth0.link_index ?? 0 };
}

/** The host side of a veth in the test host (by the container side's link_index). */
const hostSide = (h: TestHost, index: number): string =>
  h.ipj<Array<{ ifname: string; ifindex: number }>>(null, 'link', 'show').find((l) => l.ifindex === index)?.ifname ??
  '';

/** `netctl inspect NET`: the containers on it, by name. */
function onNetwork(h: TestHost, net: string): Record<string, { ip: string; mac: string }> {
  const [nw] = JSON.parse(h.ok('inspect', net)) as Array<{
    Containers: Record<string, { Name: string; IPv4Address: string; MacAddress: string }>;
  }>;
  return Object.fromEntries(
    Object.values(nw?.Containers ?? {}).map((c) => [c.Name, { ip: c.IPv4Address, mac: c.MacAddress }]),
  );
}

const states = (h: TestHost): string => h.ok('sandbox', 'ls', '--format', '{{.Name}} {{.State}} {{.Networks}}');

describe(
  "podman 4.3's CNI backend with netctl as its plugin",
  { skip: !(isRoot && hasPodman() && hasFlock) && 'needs root, podman (conmon, runc) and flock' },
  () => {
    const GW = '10.247.1.1';
    let h: TestHost;
    let p: Podman | undefined;
    let release: (() => Promise<void>) | undefined;
    let made: string[] = [];
    let net: string, peer: string, pm: string;

    before(async () => {
      release = await takeLock();
      made = missing('/var/lib/cni', CACHE);
      h = new TestHost();
      p = startPodman(h);
      Object.assign(h.env, p.env);
      net = h.name('pn');
      h.ok('create', '--subnet', '10.247.1.0/24', net);
      peer = h.name('peer');
      h.ok('sandbox', 'create', peer, '--net', net, '--ip', '10.247.1.10');
      // podman 4.3 reads and writes cniVersion 0.4.0; it lists every conflist of its
      // network_config_dir as a network named by the list's name.
      const conflist = h.ok('cni', 'conflist', net, '--cni-version', '0.4.0');
      assert.deepEqual(JSON.parse(conflist), {
        cniVersion: '0.4.0',
        name: net,
        plugins: [{ type: 'netctl-cni', network: net, root: h.root }],
      });
      writeFileSync(join(p.cniConfDir, `${net}.conflist`), conflist);
      const link = join(p.cniBinDir, 'netctl-cni');
      assert.equal(h.ok('cni', 'install', '--bin-dir', p.cniBinDir), `${link} -> ${PLUGIN}\n`);
      assert.equal(readlinkSync(link), PLUGIN);
      const nets = p.podman('network', 'ls', '--format', '{{.Name}}');
      assert.match(nets.out, new RegExp(`^${net}$`, 'm'), `podman lists the network: ${nets.out}${nets.err}`);
      pm = h.name('pm');
    });
    after(async () => {
      const left: string[] = [];
      try {
        p?.stop();
      } finally {
        if (h) {
          left.push(...h.cleanup());
          left.push(...removeCacheFiles(h, net ?? h.name('pn')).map((f) => `libcni cache ${f}`));
          left.push(...removeMadeDirs(made));
          left.push(...machineLeftovers(h));
        }
        await release?.();
      }
      assert.deepEqual(left, [], 'nothing leaked');
    });

    /** `podman run -d --network NET` with a busybox rootfs of its own (as the harness's run(), but on NET). */
    const podmanRun = (name: string): string => {
      assert.ok(p);
      const rootfs = makeRootfs(p.rootfs(name));
      const r = p.podman('run', '-d', '--network', net, '--name', name, '--rootfs', rootfs, 'sleep', '3600');
      assert.equal(r.code, 0, `podman run --network ${net}: ${r.err}`);
      return r.out.trim();
    };
    let ip = '';
    let sandboxKey = '';
    let hostVeth = '';

    it('podman run --network NET: ADD makes a sandbox named after the container, with an address', () => {
      assert.ok(p);
      const id = podmanRun(pm);
      const c = p.inspect(pm);
      assert.equal(c.Id, id);
      const eth0 = eth0Of(c.State.Pid);
      ip = eth0.ip;
      assert.match(eth0.cidr, /^10\.247\.1\.\d+\/24$/);
      assert.match(states(h), new RegExp(`^${pm} running ${net}$`, 'm'), 'named from K8S_POD_NAME');
      assert.deepEqual(onNetwork(h, net)[pm], { ip: eth0.cidr, mac: eth0.mac }, 'what netctl recorded');
      // podman's view: the CNI result it parsed, and its netns, which netctl adopted by its own name.
      const pi = JSON.parse(p.podman('container', 'inspect', '--format', 'json', pm).out) as Array<{
        NetworkSettings: { SandboxKey: string; Networks: Record<string, { IPAddress: string; Gateway: string }> };
      }>;
      const settings = pi[0]?.NetworkSettings;
      assert.deepEqual(
        [settings?.Networks[net]?.IPAddress, settings?.Networks[net]?.Gateway],
        [ip, GW],
        'podman read the result',
      );
      sandboxKey = settings?.SandboxKey ?? '';
      assert.match(sandboxKey, /^\/run\/netns\/netns-[0-9a-f-]+$/);
      const [sb] = JSON.parse(h.ok('sandbox', 'inspect', pm)) as Array<{ Mode: string; NetNS: string }>;
      assert.deepEqual([sb?.Mode, sb?.NetNS], ['adopted', `/var/run/netns/${basename(sandboxKey)}`]);
      // The container's default route is the network's gateway.
      const def = JSON.parse(
        run('nsenter', [`--net=/proc/${c.State.Pid}/ns/net`, 'ip', '-j', '-4', 'route']).out,
      ) as Array<{
        dst: string;
        gateway?: string;
      }>;
      assert.equal(def.find((r) => r.dst === 'default')?.gateway, GW);
      hostVeth = hostSide(h, eth0.peerIndex);
      assert.ok(hostVeth, 'the host side of its veth is in the test host');
      assert.deepEqual(cacheFiles(net), [`${net}-${id}-eth0`], "libcni's cache of the ADD");
    });

    it('the container and a netctl sandbox reach each other', () => {
      assert.ok(p && ip);
      assert.ok(h.ping(peer, ip), 'netctl sandbox -> podman container');
      const r = p.podman('exec', pm, 'ping', '-c1', '-W2', '10.247.1.10');
      assert.equal(r.code, 0, `podman container -> netctl sandbox: ${r.out}${r.err}`);
    });

    it("names resolve both ways through netctl's resolver; podman's resolv.conf names it first", () => {
      assert.ok(p && ip);
      // podman 4.3 writes the CNI result's dns.nameservers (netctl's resolver), then the
      // machine's own nameservers.
      const conf = p.podman('exec', pm, 'cat', '/etc/resolv.conf').out;
      assert.equal(conf.match(/^nameserver (\S+)$/m)?.[1], GW, conf);
      const r = p.podman('exec', pm, 'nslookup', `${peer}.`);
      assert.match(r.out, new RegExp(`^Server:\\s+${GW.replace(/\./g, '\\.')}$`, 'm'), 'asked the resolver');
      assert.equal(nslookupAnswer(r.out), '10.247.1.10', `the container resolves the sandbox: ${r.out}${r.err}`);
      assert.equal(lookup(`/var/run/netns/${peer}`, pm, GW), ip, 'the sandbox resolves the container');
    });

    it('podman rm -f runs DEL: sandbox, endpoint, veth and netns go; the address is free again', () => {
      assert.ok(p && ip && sandboxKey && hostVeth);
      const r = p.podman('rm', '-f', '-t', '0', pm);
      assert.equal(r.code, 0, r.err);
      assert.doesNotMatch(states(h), new RegExp(`^${pm} `, 'm'), 'sandbox gone');
      assert.deepEqual(Object.keys(onNetwork(h, net)), [peer], 'endpoint gone');
      assert.equal(
        h.links().some((l) => l.ifname === hostVeth),
        false,
        'host veth gone',
      );
      assert.equal(existsSync(sandboxKey), false, "podman's netns gone");
      assert.deepEqual(
        readdirSync('/var/run/netns').filter((n) => n.includes(h.tag)),
        [peer, h.ns].sort(),
        'nothing of ours in /var/run/netns but the test host and the sandbox',
      );
      assert.deepEqual(cacheFiles(net), [], 'libcni dropped its cache with the DEL');
      const probe = h.name('probe');
      h.ok('sandbox', 'create', probe, '--net', net, '--ip', ip);
      assert.ok(h.ping(peer, ip), 'the address serves another sandbox');
      h.ok('sandbox', 'rm', '-f', probe);
    });

    it('a restarted container: DEL, then ADD in its new namespace, reachable again', () => {
      assert.ok(p);
      const name = h.name('rs');
      podmanRun(name);
      const first = p.inspect(name).State.Pid;
      const r = p.podman('restart', '-t', '0', name);
      assert.equal(r.code, 0, r.err);
      const pid = p.inspect(name).State.Pid;
      assert.notEqual(pid, first);
      const again = eth0Of(pid);
      assert.match(states(h), new RegExp(`^${name} running ${net}$`, 'm'));
      assert.deepEqual(onNetwork(h, net)[name], { ip: again.cidr, mac: again.mac });
      assert.ok(h.ping(peer, again.ip), 'netctl sandbox -> restarted container');
      assert.equal(p.podman('exec', name, 'ping', '-c1', '-W2', '10.247.1.10').code, 0, 'and back');
      assert.equal(p.podman('rm', '-f', '-t', '0', name).code, 0);
      assert.doesNotMatch(states(h), new RegExp(`^${name} `, 'm'));
    });
  },
);

/** Processes named containerd that are not one of the tests' private instances (/tmp/netctl-rt-*). */
function machineContainerd(): string[] {
  const out: string[] = [];
  for (const pid of readdirSync('/proc').filter((x) => /^\d+$/.test(x)))
    try {
      if (readFileSync(`/proc/${pid}/comm`, 'utf8').trim() !== 'containerd') continue;
      const cmd = readFileSync(`/proc/${pid}/cmdline`, 'utf8').replace(/\0/g, ' ').trim();
      if (!cmd.includes('/netctl-rt-')) out.push(`${pid} ${cmd}`);
    } catch {
      // gone
    }
  return out;
}

/** Why this machine's CNI directories cannot take the test's conflist and plugin safely ('' if they can). */
function whyNotCtr(conf: string): string {
  const ours = basename(conf);
  if (existsSync(conf)) return `${conf} exists`;
  if (existsSync(CONF_DIR)) {
    const first = readdirSync(CONF_DIR)
      .filter((f) => /\.(conf|conflist|json)$/.test(f))
      .sort()
      .find((f) => f < ours);
    if (first) return `${CONF_DIR}/${first} sorts before ${ours}: ctr would use it`;
  }
  // A CRI containerd of the machine watches /etc/cni/net.d: our conflist would become its pods' network.
  const cd = machineContainerd();
  if (cd.length) return `a containerd of the machine runs (${cd.join('; ')}): the conflist would be its network too`;
  for (const dir of [OPT_BIN, '/usr/lib/cni']) {
    const link = join(dir, 'netctl-cni');
    const st = lstatSync(link, { throwIfNoEntry: false });
    if (st && !(st.isSymbolicLink() && readlinkSync(link) === PLUGIN))
      return `${link} exists and is not a link to ${PLUGIN}: ctr could run another netctl-cni`;
  }
  return '';
}

describe(
  "containerd 1.6's ctr run --cni with netctl as its plugin",
  { skip: !(isRoot && hasCtr() && hasFlock) && 'needs root, containerd, ctr, runc and flock' },
  () => {
    const GW = '10.247.2.1';
    let h: TestHost;
    let c: Containerd | undefined;
    let release: (() => Promise<void>) | undefined;
    let why = '';
    let made: string[] = [];
    let conf = '';
    let confText = '';
    let linkMade = false;
    let net: string, peer: string, id: string, sbName: string;
    let ip = '';
    let pid = 0;

    /** Removes the conflist and the plugin link if they are still ours; returns what is not. */
    const removeOurs = (): string[] => {
      const left: string[] = [];
      if (conf && existsSync(conf)) {
        if (readFileSync(conf, 'utf8') === confText && basename(conf) === `00-${h.tag}.conflist`) rmSync(conf);
        else left.push(`${conf} changed: left in place`);
      }
      conf = '';
      const link = join(OPT_BIN, 'netctl-cni');
      const st = lstatSync(link, { throwIfNoEntry: false });
      if (linkMade && st) {
        if (st.isSymbolicLink() && readlinkSync(link) === PLUGIN) rmSync(link);
        else left.push(`${link} is no longer our link: left in place`);
      }
      linkMade = false;
      return left;
    };
    const onExit = (): void => void removeOurs();

    before(async () => {
      release = await takeLock();
      h = new TestHost();
      conf = join(CONF_DIR, `00-${h.tag}.conflist`);
      why = whyNotCtr(conf);
      if (why) {
        conf = '';
        return;
      }
      made = missing('/etc/cni', CONF_DIR, '/opt/cni', OPT_BIN, '/var/lib/cni', CACHE);
      c = await startContainerd(h);
      Object.assign(h.env, c.env);
      net = h.name('cn');
      h.ok('create', '--subnet', '10.247.2.0/24', net);
      peer = h.name('peer');
      h.ok('sandbox', 'create', peer, '--net', net, '--ip', '10.247.2.10');
      confText = h.ok('cni', 'conflist', net);
      assert.equal((JSON.parse(confText) as { cniVersion: string }).cniVersion, '1.0.0', 'the default suits ctr');
      process.once('exit', onExit);
      mkdirSync(CONF_DIR, { recursive: true });
      writeFileSync(conf, confText, { flag: 'wx' });
      linkMade = !lstatSync(join(OPT_BIN, 'netctl-cni'), { throwIfNoEntry: false });
      assert.equal(h.ok('cni', 'install', '--bin-dir', OPT_BIN), `${OPT_BIN}/netctl-cni -> ${PLUGIN}\n`);
      id = h.name('ct');
      // ctr passes CNI_CONTAINERID = NAMESPACE-ID and no K8S_POD_NAME.
      sbName = `cni-${c.ns}-${id}`;
    });
    after(async () => {
      const left: string[] = [];
      try {
        c?.stop();
      } finally {
        if (h) {
          left.push(...h.cleanup());
          process.removeListener('exit', onExit);
          left.push(...removeOurs());
          // ctr never runs DEL for a detached container: its cache file is ours to remove.
          if (net) removeCacheFiles(h, net);
          left.push(...removeMadeDirs(made));
          left.push(...machineLeftovers(h));
        }
        await release?.();
      }
      assert.deepEqual(left, [], 'nothing leaked');
    });

    /** `ctr task exec` in the container (a fresh exec id each time). */
    let execs = 0;
    const inside = (...argv: string[]) => {
      assert.ok(c);
      return c.ctr('task', 'exec', '--exec-id', `x${++execs}`, id, ...argv);
    };
    /**
     * As the harness's run(), plus --cni; through nsenter so that ctr, and the plugin it runs,
     * are in the test host (where the network's bridge is). Returns the task's pid.
     */
    const ctrRunCni = (): number => {
      assert.ok(c);
      const rootfs = c.rootfs(id);
      if (!existsSync(rootfs)) makeRootfs(rootfs);
      const argv = ['-a', c.sock, '-n', c.ns, 'run', '-d', '--null-io', '--cgroup', '', '--runc-root'];
      argv.push(join(c.dir, 'runc'), '--cni', '--rootfs', rootfs, id, '/bin/sleep', '3600');
      const r = run('nsenter', [`--net=/var/run/netns/${h.ns}`, 'ctr', ...argv]);
      assert.equal(r.code, 0, `ctr run --cni: ${r.err}`);
      const p = c.pid(id);
      assert.ok(p > 0, 'the task runs');
      return p;
    };
    /** `ctr task kill -s SIGKILL` and `ctr task delete` (which runs no CNI DEL), then the container goes. */
    const ctrRemove = (): void => {
      assert.ok(c);
      assert.equal(c.ctr('task', 'kill', '-s', 'SIGKILL', id).code, 0);
      let del = c.ctr('task', 'delete', id);
      for (const end = Date.now() + 10_000; del.code !== 0 && Date.now() < end; del = c.ctr('task', 'delete', id))
        run('sleep', ['0.1']);
      assert.equal(del.code, 0, del.err);
      assert.equal(c.ctr('containers', 'rm', id).code, 0);
    };

    it('ctr run --cni: ADD adopts /proc/PID/ns/net as sandbox cni-NS-ID, with an address', (t) => {
      if (why) return t.skip(why);
      assert.ok(c);
      pid = ctrRunCni();
      const eth0 = eth0Of(pid);
      ip = eth0.ip;
      assert.match(eth0.cidr, /^10\.247\.2\.\d+\/24$/);
      assert.match(states(h), new RegExp(`^${sbName} running ${net}$`, 'm'), 'named after CNI_CONTAINERID');
      assert.deepEqual(onNetwork(h, net)[sbName], { ip: eth0.cidr, mac: eth0.mac }, 'what netctl recorded');
      // The netns is named by a symlink to what ctr passed, which keeps nothing alive.
      assert.equal(readlinkSync(`/var/run/netns/${sbName}`), `/proc/${pid}/ns/net`);
      assert.deepEqual(cacheFiles(net), [`${net}-${c.ns}-${id}-eth0`], "libcni's cache of the ADD");
    });

    it('the container and a netctl sandbox reach each other, by address and by name', (t) => {
      if (why) return t.skip(why);
      assert.ok(ip);
      assert.ok(h.ping(peer, ip), 'netctl sandbox -> ctr container');
      const r = inside('/bin/ping', '-c1', '-W2', '10.247.2.10');
      assert.equal(r.code, 0, `ctr container -> netctl sandbox: ${r.out}${r.err}`);
      // ctr writes no resolv.conf: the resolver asked by address.
      const n = inside('/bin/nslookup', `${peer}.`, GW);
      assert.equal(nslookupAnswer(n.out), '10.247.2.10', `the container resolves the sandbox: ${n.out}${n.err}`);
      assert.equal(lookup(`/var/run/netns/${peer}`, sbName, GW), ip, 'the sandbox resolves the container');
    });

    it('ctr task kill + delete (no DEL): the sandbox is exited at once and its address held', (t) => {
      if (why) return t.skip(why);
      assert.ok(c && ip && pid);
      ctrRemove();
      assert.equal(existsSync(`/proc/${pid}/ns/net`), false, 'the container is gone');
      assert.match(states(h), new RegExp(`^${sbName} exited ${net}$`, 'm'), 'exited at once');
      assert.deepEqual(cacheFiles(net), [`${net}-${c.ns}-${id}-eth0`], 'ctr ran no DEL: libcni still has its cache');
      const doctor = h.netctl('doctor');
      assert.equal(doctor.code, 0, doctor.out + doctor.err);
      assert.match(doctor.err, new RegExp(`^warning: container ${sbName} .*exited`, 'm'), 'doctor warns of it');
      const taken = h.netctl('sandbox', 'create', h.name('probe'), '--net', net, '--ip', ip);
      assert.equal(taken.code, 1, "an exited sandbox's address stays reserved");
      assert.match(taken.err, new RegExp(`^Error: Address already in use: ${ip.replace(/\./g, '\\.')} .*${sbName}`));
    });

    // The first mutating command after the exit records it for good, even when the command
    // itself then fails (as the refused create above): nothing is left to look interrupted.
    it('the command refused after the exit left no interrupted operation for the next one', (t) => {
      if (why) return t.skip(why);
      const r = h.netctl('sandbox', 'create', h.name('next'), '--net', net);
      assert.equal(r.code, 0, r.err);
      h.ok('sandbox', 'rm', '-f', h.name('next'));
      assert.equal(r.err, '', 'no "cleaned up after an interrupted exited container" of a command that failed cleanly');
    });

    it('sandbox prune removes it and prints its name; its address is free; the ID runs again', (t) => {
      if (why) return t.skip(why);
      assert.ok(c && ip);
      assert.equal(h.ok('sandbox', 'prune').trim(), sbName);
      assert.doesNotMatch(states(h), new RegExp(`^${sbName} `, 'm'));
      assert.deepEqual(Object.keys(onNetwork(h, net)), [peer], 'endpoint gone');
      assert.equal(existsSync(`/var/run/netns/${sbName}`), false, 'its netns name gone');
      assert.equal(lookup(`/var/run/netns/${peer}`, sbName, GW), '', 'its name gone from the resolver');
      h.ok('sandbox', 'create', h.name('probe'), '--net', net, '--ip', ip);
      assert.ok(h.ping(peer, ip), 'the address serves another sandbox');
      h.ok('sandbox', 'rm', '-f', h.name('probe'));
      // The same ID again (a new namespace, ADD again): as good as new.
      pid = ctrRunCni();
      const again = eth0Of(pid);
      assert.match(states(h), new RegExp(`^${sbName} running ${net}$`, 'm'));
      assert.ok(h.ping(peer, again.ip), 'netctl sandbox -> the new container');
      ctrRemove();
      assert.equal(h.ok('sandbox', 'prune').trim(), sbName);
    });
  },
);
