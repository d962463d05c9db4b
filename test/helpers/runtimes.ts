// Tier 3 harness for netctl's runtime references (`docker:NAME`, `podman:NAME`, `ctr:NS/ID`):
// REAL container runtimes, private to one test file, living in the test host's namespace.
//
//   startDocker(h)      containerd + dockerd 20.10 (vfs, --bridge=none, no iptables), image `bb`
//   startPodman(h)      podman 4.3, CNI backend, its own containers.conf / storage.conf / runc root
//   startContainerd(h)  containerd 1.6 for `ctr`, its own root / state / socket / runc root
//
// Each instance keeps EVERYTHING under one mkdtemp directory (/tmp/netctl-rt-<kind>-XXXXXX):
// data, state, sockets, pid files, logs, rootfs copies, runc state. Its daemons and CLIs run
// with `nsenter --net=/var/run/netns/<h.ns>` (only the network namespace: the cgroup mounts stay
// visible, which `ip netns exec` would hide), so nothing touches docker0 or the machine's own
// stack. Containers run with `--network none`: each gets a namespace of its own, and netctl is
// the one to attach it. `env` is what a netctl run needs to reach the same instance
// (`h.env`, or `{ ...h.env, ...d.env }` per call).
//
// stop() removes the containers, stops the daemons, kills what is left of the instance (by its
// directory: command lines naming it, roots inside it), unmounts what is left under it (only
// there, read from /proc/self/mountinfo), removes it, and throws if anything would leak:
// processes, mounts, the directory, the containers' cgroups, podman's /run/netns/netns-*
// files, containerd's shim sockets in /run/containerd/s. What it had to force is in `forced`.
// Every unmount and delete first checks that its path is set and lies inside the instance's own
// directory (an empty variable once unmounted every mount of the machine).
import { spawn, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import {
  accessSync,
  chmodSync,
  closeSync,
  constants,
  copyFileSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  openSync,
  readFileSync,
  readdirSync,
  readlinkSync,
  rmSync,
  rmdirSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Result, TestHost } from './host.js';

/** busybox applets in every rootfs (the `bb` image and the per-container copies). */
export const APPLETS = ['sh', 'sleep', 'ip', 'ping', 'cat', 'nc', 'nslookup', 'wget', 'hostname', 'ifconfig', 'route'];
const BUSYBOX = '/bin/busybox';
const START_TIMEOUT_MS = 30_000;
const isRoot = process.getuid?.() === 0;

// ---------------------------------------------------------------------------------------------
// What is installed

function onPath(cmd: string): boolean {
  for (const d of (process.env['PATH'] ?? '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin').split(':'))
    try {
      accessSync(join(d || '.', cmd), constants.X_OK);
      return true;
    } catch {
      // next
    }
  return false;
}

const has = (...cmds: string[]): boolean =>
  isRoot && existsSync(BUSYBOX) && existsSync('/var/run/netns') && ['nsenter', 'tar', ...cmds].every(onPath);

/** dockerd, the docker CLI, containerd and runc (a private engine can be started). */
export function hasDocker(): boolean {
  return has('dockerd', 'docker', 'containerd', 'containerd-shim-runc-v2', 'runc');
}
/** podman with conmon and runc. */
export function hasPodman(): boolean {
  return has('podman', 'conmon', 'runc');
}
/** containerd and its ctr CLI. */
export function hasCtr(): boolean {
  return has('containerd', 'ctr', 'containerd-shim-runc-v2', 'runc');
}

// ---------------------------------------------------------------------------------------------
// Small tools

function sh(file: string, args: string[], env: Record<string, string> = {}, timeout = 60_000): Result {
  const r = spawnSync(file, args, {
    encoding: 'utf8',
    env: { ...process.env, LC_ALL: 'C', ...env },
    timeout,
    maxBuffer: 64 << 20,
  });
  const err = r.error ? `${r.stderr ?? ''}${r.error.message}` : (r.stderr ?? '');
  return { code: r.status ?? 1, out: r.stdout ?? '', err };
}

function must(r: Result, what: string): string {
  if (r.code !== 0) throw new Error(`${what}: exit ${r.code}: ${r.err.trim()}`);
  return r.out;
}

function sleepSync(ms: number): void {
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
}

/** The inode of a process's network namespace (`net:[4026532763]`), or '' when it is gone. */
export function netnsOf(pid: number | string): string {
  try {
    return readlinkSync(`/proc/${pid}/ns/net`);
  } catch {
    return '';
  }
}

/** The same for a named netns (the test host: `netnsOfNamed(h.ns)`). */
export function netnsOfNamed(name: string): string {
  return sh('nsenter', [`--net=/var/run/netns/${name}`, 'readlink', '/proc/self/ns/net']).out.trim();
}

/** A busybox-static rootfs: /bin/busybox and its applets, empty /etc /proc /sys /dev /tmp. */
export function makeRootfs(dir: string): string {
  for (const d of ['bin', 'etc', 'proc', 'sys', 'dev', 'tmp']) mkdirSync(join(dir, d), { recursive: true });
  copyFileSync(BUSYBOX, join(dir, 'bin/busybox'));
  chmodSync(join(dir, 'bin/busybox'), 0o755);
  for (const a of APPLETS) symlinkSync('busybox', join(dir, 'bin', a));
  return dir;
}

type Kind = 'docker' | 'podman' | 'ctr';

/** The instance's own directory: /tmp/netctl-rt-<kind>-XXXXXX. */
function makeOwnDir(kind: Kind): string {
  const dir = mkdtempSync(join(tmpdir(), `netctl-rt-${kind}-`));
  checkOwnDir(dir);
  return dir;
}

/** Throws unless `dir` is exactly what makeOwnDir makes. */
function checkOwnDir(dir: string): void {
  const base = resolve(tmpdir());
  const ok =
    typeof dir === 'string' &&
    dir.length > base.length + 1 &&
    resolve(dir) === dir &&
    dir.startsWith(`${base}/netctl-rt-`) &&
    /^netctl-rt-(docker|podman|ctr)-[A-Za-z0-9]{6}$/.test(dir.slice(base.length + 1)) &&
    base !== '/';
  if (!ok) throw new Error(`runtimes: refusing to work on ${JSON.stringify(dir)}: not an instance directory`);
}

/** Whether `p` is `dir` or lies inside it (both set, absolute, normalized). */
function inside(dir: string, p: string): boolean {
  checkOwnDir(dir);
  return typeof p === 'string' && p.startsWith('/') && resolve(p) === p && (p === dir || p.startsWith(`${dir}/`));
}

const unescapeMount = (s: string): string =>
  s.replace(/\\([0-7]{3})/g, (_, o: string) => String.fromCharCode(parseInt(o, 8)));

/** Mount points at or under `dir`, deepest last in mount order (so: unmount in reverse). */
function mountsUnder(dir: string): string[] {
  checkOwnDir(dir);
  return readFileSync('/proc/self/mountinfo', 'utf8')
    .split('\n')
    .map((l) => unescapeMount(l.split(' ')[4] ?? ''))
    .filter((m) => m !== '' && inside(dir, m));
}

/** Unmounts what is mounted under `dir` (lazily if it is busy); returns what it unmounted. */
function unmountUnder(dir: string): string[] {
  const done: string[] = [];
  for (let round = 0; round < 5; round++) {
    const ms = mountsUnder(dir);
    if (!ms.length) break;
    for (const m of ms.reverse()) {
      if (!inside(dir, m)) continue; // checked again right before the call
      if (sh('umount', [m]).code !== 0) sh('umount', ['-l', m]);
      done.push(m);
    }
  }
  return done;
}

function procState(pid: string): string {
  try {
    const s = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return s.slice(s.lastIndexOf(')') + 2, s.lastIndexOf(')') + 3);
  } catch {
    return '';
  }
}

/** Live (not zombie) processes of an instance: a command line naming its directory, or a root inside it. */
function procsUnder(dir: string): Array<{ pid: number; cmd: string }> {
  checkOwnDir(dir);
  const out: Array<{ pid: number; cmd: string }> = [];
  for (const p of readdirSync('/proc')) {
    if (!/^\d+$/.test(p) || Number(p) === process.pid) continue;
    let cmd = '';
    let root = '';
    try {
      cmd = readFileSync(`/proc/${p}/cmdline`, 'utf8').replace(/\0/g, ' ').trim();
      root = readlinkSync(`/proc/${p}/root`);
    } catch {
      // gone, or a kernel thread
    }
    if (!cmd.includes(dir) && !inside(dir, root)) continue;
    const st = procState(p);
    if (st === '' || st === 'Z' || st === 'X') continue;
    out.push({ pid: Number(p), cmd: cmd.slice(0, 200) });
  }
  return out;
}

/** A process's start time (clock ticks since boot): with its pid, which process it is. */
function startTime(pid: number): string {
  try {
    const s = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return s.slice(s.lastIndexOf(')') + 2).split(' ')[19] ?? '';
  } catch {
    return '';
  }
}

/** A container's process as run() saw it. */
interface Seen {
  pid: number;
  start: string;
  cgroups: string[];
}
const seenOf = (pid: number): Seen => ({
  pid,
  start: pid > 0 ? startTime(pid) : '',
  cgroups: pid > 0 ? cgroupDirs(pid) : [],
});
const stillThere = (c: Seen): boolean => c.pid > 0 && alive(c.pid) && startTime(c.pid) === c.start;

const alive = (pid: number | undefined): boolean => {
  if (!pid) return false;
  const st = procState(String(pid));
  return st !== '' && st !== 'Z' && st !== 'X';
};

function waitGone(pid: number | undefined, ms: number): boolean {
  const end = Date.now() + ms;
  while (alive(pid)) {
    if (Date.now() > end) return false;
    sleepSync(50);
  }
  return true;
}

function killGroup(pid: number | undefined, sig: NodeJS.Signals): void {
  if (!pid) return;
  try {
    process.kill(-pid, sig);
  } catch {
    try {
      process.kill(pid, sig);
    } catch {
      // gone
    }
  }
}

/** Cgroup directories of a process (cgroup v1 and v2), to check they are gone after stop(). */
function cgroupDirs(pid: number): string[] {
  const out: string[] = [];
  let text: string;
  try {
    text = readFileSync(`/proc/${pid}/cgroup`, 'utf8');
  } catch {
    return out;
  }
  for (const l of text.split('\n')) {
    const m = /^\d+:([^:]*):(.*)$/.exec(l);
    if (!m || !m[2] || m[2] === '/') continue;
    const ctl = m[1] === '' ? 'unified' : (m[1] ?? '').replace(/^name=/, '');
    const d = `/sys/fs/cgroup/${ctl}${m[2]}`;
    if (existsSync(`/sys/fs/cgroup/${ctl}`)) out.push(d);
    else if (m[1] === '' && existsSync(`/sys/fs/cgroup/cgroup.controllers`)) out.push(`/sys/fs/cgroup${m[2]}`);
  }
  return out;
}

/** containerd 1.6's shim socket for a task (hard-wired under /run/containerd/s). */
function shimSocket(address: string, ns: string, id: string): string {
  return `/run/containerd/s/${createHash('sha256')
    .update(join(address, ns, id))
    .digest('hex')}`;
}

function tail(file: string, lines = 25): string {
  try {
    return readFileSync(file, 'utf8').trimEnd().split('\n').slice(-lines).join('\n');
  } catch {
    return '(no log)';
  }
}

/** A daemon in the test host's namespace, its own process group, output to `log`. */
function spawnDaemon(h: TestHost, log: string, file: string, args: string[]): { pid: number; exited: () => boolean } {
  const fd = openSync(log, 'a');
  const p = spawn('nsenter', [`--net=/var/run/netns/${h.ns}`, file, ...args], {
    detached: true,
    stdio: ['ignore', fd, fd],
    env: { ...process.env, LC_ALL: 'C' },
  });
  closeSync(fd);
  let gone = false;
  p.on('exit', () => (gone = true));
  p.unref();
  if (!p.pid) throw new Error(`runtimes: could not start ${file}`);
  return { pid: p.pid, exited: () => gone || !alive(p.pid) };
}

async function waitReady(what: string, ready: () => boolean, exited: () => boolean, logs: string[]): Promise<void> {
  const end = Date.now() + START_TIMEOUT_MS;
  for (;;) {
    if (ready()) return;
    const dead = exited();
    if (dead || Date.now() > end)
      throw new Error(
        `runtimes: ${what} ${dead ? 'exited' : `did not answer within ${START_TIMEOUT_MS / 1000} s`}\n` +
          logs.map((l) => `--- ${l}\n${tail(l)}`).join('\n'),
      );
    await sleep(100);
  }
}

/**
 * What every stop() ends with: kill what is left of the instance, unmount what is left under
 * it, check the leak list, remove the directory. Throws with everything that leaked.
 */
function finish(
  dir: string,
  groups: Array<number | undefined>,
  containers: Iterable<[string, Seen]>,
  forced: string[],
  extraChecks: () => string[],
): void {
  checkOwnDir(dir);
  const leaks: string[] = [];
  for (const g of groups) if (alive(g)) killGroup(g, 'SIGKILL');
  // What the runtime still finishes on its own (podman's conmon runs `podman container
  // cleanup` after `podman rm` has returned; shims exit after their task is deleted).
  let left = procsUnder(dir);
  for (const end = Date.now() + 5000; left.length && Date.now() < end; left = procsUnder(dir)) sleepSync(50);
  const kill = (pid: number): void => {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // gone
    }
  };
  for (const p of left) {
    forced.push(`killed pid ${p.pid}: ${p.cmd}`);
    kill(p.pid);
  }
  // A container's init outlives a killed shim (it is in a pid namespace of its own).
  const cs = [...containers];
  for (const [id, c] of cs)
    if (stillThere(c)) {
      forced.push(`killed container ${id} pid ${c.pid}`);
      kill(c.pid);
    }
  const end = Date.now() + 5000;
  while ((left = procsUnder(dir)).length && Date.now() < end) sleepSync(50);
  for (const p of left) leaks.push(`process ${p.pid} survived SIGKILL: ${p.cmd}`);
  for (const [id, c] of cs) {
    while (stillThere(c) && Date.now() < end) sleepSync(50);
    if (stillThere(c)) leaks.push(`container ${id} pid ${c.pid} survived SIGKILL`);
    // The runtime removes a container's cgroups when it deletes the container; one that died
    // with its shim leaves them: remove those (rmdir of a cgroup only ever takes an empty one).
    const leaf = id.slice(id.lastIndexOf('/') + 1);
    for (const g of c.cgroups) {
      if (!existsSync(g)) continue;
      if (leaf && g.startsWith('/sys/fs/cgroup/') && resolve(g) === g && g.slice(g.lastIndexOf('/') + 1).includes(leaf))
        try {
          rmdirSync(g);
          forced.push(`removed cgroup ${g}`);
          continue;
        } catch {
          // still has tasks, or not ours
        }
      leaks.push(`cgroup ${g}`);
    }
  }
  for (const m of unmountUnder(dir)) forced.push(`unmounted ${m}`);
  const still = mountsUnder(dir);
  for (const m of still) leaks.push(`mount ${m}`);
  leaks.push(...extraChecks());
  // rm -r would go through a mount into whatever it shows: never with a mount left under dir.
  if (!still.length && inside(dir, dir)) rmSync(dir, { recursive: true, force: true });
  if (existsSync(dir)) leaks.push(`directory ${dir}`);
  if (leaks.length) throw new Error(`runtimes: stop() left behind:\n  ${leaks.join('\n  ')}`);
}

/** stop() of every instance still running when the test process exits (a crashed test file). */
const running = new Set<{ stop(): void }>();
let exitHook = false;
function track(x: { stop(): void }): void {
  running.add(x);
  if (exitHook) return;
  exitHook = true;
  process.once('exit', () => {
    for (const r of [...running])
      try {
        r.stop();
      } catch (e) {
        process.stderr.write(`${(e as Error).message}\n`);
      }
  });
}

// ---------------------------------------------------------------------------------------------
// containerd (on its own for ctr, and as dockerd's)

function containerdConfig(dir: string, sock: string): string {
  return [
    'version = 2',
    `root = ${JSON.stringify(join(dir, 'containerd/root'))}`,
    `state = ${JSON.stringify(join(dir, 'containerd/state'))}`,
    // CRI would read /etc/cni/net.d and serve on its own; nothing here needs it.
    'disabled_plugins = ["io.containerd.grpc.v1.cri"]',
    '[grpc]',
    `  address = ${JSON.stringify(sock)}`,
    '[ttrpc]',
    `  address = ${JSON.stringify(`${sock}.ttrpc`)}`,
    '[debug]',
    '  address = ""',
    '[metrics]',
    '  address = ""',
    '[plugins."io.containerd.internal.v1.opt"]',
    `  path = ${JSON.stringify(join(dir, 'containerd/opt'))}`,
    '',
  ].join('\n');
}

async function runContainerd(
  h: TestHost,
  dir: string,
): Promise<{ sock: string; pid: number; exited: () => boolean; log: string }> {
  const sock = join(dir, 'containerd.sock');
  const conf = join(dir, 'containerd.toml');
  const log = join(dir, 'containerd.log');
  for (const d of ['containerd/root', 'containerd/state', 'containerd/opt'])
    mkdirSync(join(dir, d), { recursive: true });
  writeFileSync(conf, containerdConfig(dir, sock));
  const d = spawnDaemon(h, log, 'containerd', ['--config', conf]);
  await waitReady('containerd', () => existsSync(sock) && sh('ctr', ['-a', sock, 'version']).code === 0, d.exited, [
    log,
  ]);
  return { sock, log, ...d };
}

/** SIGTERM, then SIGKILL after `ms`; waits until it is gone. */
function stopDaemon(pid: number | undefined, ms: number, what: string, forced: string[]): void {
  if (!alive(pid)) return;
  killGroup(pid, 'SIGTERM');
  if (waitGone(pid, ms)) return;
  forced.push(`SIGKILL to ${what} (pid ${pid}) after ${ms} ms`);
  killGroup(pid, 'SIGKILL');
  waitGone(pid, 5000);
}

// ---------------------------------------------------------------------------------------------
// Docker

/** A start that failed part-way stops what it started; the start's error is thrown, the stop's appended. */
function failed(self: Instance, e: unknown): never {
  try {
    self.stop();
  } catch (e2) {
    (e as Error).message += `\n${(e2 as Error).message}`;
  }
  throw e;
}

/** What every runtime instance here has. */
interface Instance {
  /** The instance's own directory (everything of it is inside). */
  dir: string;
  /** What netctl's environment needs to reach this instance (DOCKER_HOST, CONTAINERS_CONF, ...). */
  env: Record<string, string>;
  /** Starts a container with no network of its own runtime's; returns its id. */
  run(name: string, ...extra: string[]): string;
  /** The container's init pid (0 when it is not running). */
  pid(name: string): number;
  /** What stop() had to force (SIGKILL, unmounts). */
  forced: string[];
  /** Removes the containers, stops the daemons, removes the directory; throws on a leak. */
  stop(): void;
}

/** A private dockerd (and its containerd); run() is `docker run -d --network none --name NAME [extra] bb sleep …`. */
export interface Docker extends Instance {
  /** dockerd's socket. */
  sock: string;
  /** The docker CLI against this engine. */
  docker(...args: string[]): Result;
  /** `docker inspect NAME` (the first element). */
  inspect(name: string): DockerInspect;
}

export interface DockerInspect {
  Id: string;
  Name: string;
  State: { Running: boolean; Pid: number; Status: string };
  ResolvConfPath: string;
  HostsPath: string;
  HostConfig: { NetworkMode: string };
  NetworkSettings: { SandboxKey: string };
}

export async function startDocker(h: TestHost): Promise<Docker> {
  const dir = makeOwnDir('docker');
  const sock = join(dir, 'docker.sock');
  const log = join(dir, 'dockerd.log');
  const env = { DOCKER_HOST: `unix://${sock}`, DOCKER_CONFIG: join(dir, 'cli') };
  const forced: string[] = [];
  const seen = new Map<string, Seen>();
  let cd: Awaited<ReturnType<typeof runContainerd>> | undefined;
  let dockerdPid: number | undefined;
  let stopped = false;
  const docker = (...args: string[]): Result => sh('docker', args, env);

  const self: Docker = {
    dir,
    sock,
    env,
    forced,
    docker,
    run(name, ...extra) {
      const id = must(
        docker('run', '-d', '--network', 'none', '--name', name, ...extra, 'bb', 'sleep', '3600'),
        `docker run ${name}`,
      ).trim();
      seen.set(id, seenOf(self.pid(id)));
      return id;
    },
    inspect(name) {
      const v = JSON.parse(
        must(docker('inspect', '--type', 'container', name), `docker inspect ${name}`),
      ) as DockerInspect[];
      if (!v[0]) throw new Error(`docker inspect ${name}: nothing`);
      return v[0];
    },
    pid(name) {
      return self.inspect(name).State.Pid;
    },
    stop() {
      if (stopped) return;
      stopped = true;
      running.delete(self);
      checkOwnDir(dir);
      if (alive(dockerdPid)) {
        const ids = docker('ps', '-aq', '--no-trunc').out.split('\n').filter(Boolean);
        for (const id of ids) if (!seen.has(id)) seen.set(id, seenOf(0));
        if (ids.length) {
          const r = sh('docker', ['rm', '-f', ...ids], env, 30_000);
          if (r.code !== 0) forced.push(`docker rm -f: ${r.err.trim()}`);
        }
      }
      stopDaemon(dockerdPid, 15_000, 'dockerd', forced);
      stopDaemon(cd?.pid, 10_000, 'containerd', forced);
      finish(dir, [dockerdPid, cd?.pid], seen, forced, () => {
        const leaks: string[] = [];
        for (const id of seen.keys()) {
          if (cd) {
            const s = shimSocket(cd.sock, 'moby', id);
            if (existsSync(s)) {
              rmSync(s, { force: true }); // named by a hash of our own socket's path: ours
              forced.push(`removed shim socket ${s}`);
            }
          }
        }
        return leaks;
      });
    },
  };
  track(self);
  try {
    // Its own containerd: dockerd would otherwise use /run/containerd/containerd.sock when a
    // system containerd runs.
    cd = await runContainerd(h, dir);
    const daemonJson = join(dir, 'daemon.json');
    writeFileSync(daemonJson, JSON.stringify({ 'deprecated-key-path': join(dir, 'key.json') }));
    mkdirSync(join(dir, 'cli'));
    const d = spawnDaemon(h, log, 'dockerd', [
      `--config-file=${daemonJson}`,
      `--containerd=${cd.sock}`,
      `--data-root=${join(dir, 'data')}`,
      `--exec-root=${join(dir, 'exec')}`,
      `--pidfile=${join(dir, 'docker.pid')}`,
      `--host=unix://${sock}`,
      '--bridge=none',
      '--iptables=false',
      '--ip-forward=false',
      '--ip-masq=false',
      '--storage-driver=vfs',
    ]);
    dockerdPid = d.pid;
    await waitReady('dockerd', () => existsSync(sock) && docker('info', '--format', '{{.ID}}').code === 0, d.exited, [
      log,
      cd.log,
    ]);
    const rootfs = makeRootfs(join(dir, 'bb-rootfs'));
    const tarball = join(dir, 'bb.tar');
    must(sh('tar', ['--numeric-owner', '-C', rootfs, '-cf', tarball, '.']), 'tar of the busybox rootfs');
    must(docker('import', tarball, 'bb'), 'docker import bb');
  } catch (e) {
    failed(self, e);
  }
  return self;
}

// ---------------------------------------------------------------------------------------------
// Podman

/** podman 4.3, CNI backend; run() is `podman run -d --network none --name NAME [extra] --rootfs <copy> sleep …`. */
export interface Podman extends Instance {
  /** The instance's CNI config dir (network_config_dir) and plugin dir (links to /usr/lib/cni/*). */
  cniConfDir: string;
  cniBinDir: string;
  /** podman against this instance, through nsenter into the test host's namespace. */
  podman(...args: string[]): Result;
  inspect(name: string): PodmanInspect;
  /** The rootfs copy run() gave NAME (its /etc is empty: podman writes no resolv.conf with --network none). */
  rootfs(name: string): string;
}

export interface PodmanInspect {
  Id: string;
  Name: string;
  State: { Running: boolean; Pid: number; Status: string };
  ResolvConfPath: string;
  HostsPath: string;
  HostConfig: { NetworkMode: string };
  NetworkSettings: { SandboxKey: string };
}

export function startPodman(h: TestHost): Podman {
  const dir = makeOwnDir('podman');
  const p = (...x: string[]): string => join(dir, ...x);
  const forced: string[] = [];
  const seen = new Map<string, Seen & { netns: string }>();
  let stopped = false;
  const env = {
    CONTAINERS_CONF: p('containers.conf'),
    CONTAINERS_STORAGE_CONF: p('storage.conf'),
    CONTAINERS_REGISTRIES_CONF: p('registries.conf'),
  };
  const cniConfDir = p('cni/net.d');
  const cniBinDir = p('cni/bin');
  // Through nsenter (not ip netns exec, which remounts /sys and hides the cgroup mounts); once
  // the test host is gone (stop() after h.cleanup()), directly.
  const podmanArgv = (args: string[]): [string, string[]] =>
    existsSync(`/var/run/netns/${h.ns}`)
      ? ['nsenter', [`--net=/var/run/netns/${h.ns}`, 'podman', ...args]]
      : ['podman', args];
  const podman = (...args: string[]): Result => sh(...podmanArgv(args), env);

  const self: Podman = {
    dir,
    env,
    cniConfDir,
    cniBinDir,
    forced,
    podman,
    run(name, ...extra) {
      if (!/^[A-Za-z0-9][A-Za-z0-9_.-]*$/.test(name)) throw new Error(`podman run: bad name ${name}`);
      const rootfs = makeRootfs(self.rootfs(name));
      const id = must(
        podman('run', '-d', '--network', 'none', '--name', name, ...extra, '--rootfs', rootfs, 'sleep', '3600'),
        `podman run ${name}`,
      ).trim();
      const c = self.inspect(id);
      seen.set(id, { ...seenOf(c.State.Pid), netns: c.NetworkSettings?.SandboxKey ?? '' });
      return id;
    },
    inspect(name) {
      const v = JSON.parse(
        must(podman('container', 'inspect', '--format', 'json', name), `podman inspect ${name}`),
      ) as PodmanInspect[];
      if (!v[0]) throw new Error(`podman inspect ${name}: nothing`);
      return v[0];
    },
    pid(name) {
      return self.inspect(name).State.Pid;
    },
    rootfs: (name) => p('rootfs', name),
    stop() {
      if (stopped) return;
      stopped = true;
      running.delete(self);
      checkOwnDir(dir);
      if (existsSync(p('containers.conf'))) {
        const ids = podman('ps', '-aq', '--no-trunc').out.split('\n').filter(Boolean);
        for (const id of ids) if (!seen.has(id)) seen.set(id, { ...seenOf(0), netns: '' });
        if (ids.length) {
          const r = sh(...podmanArgv(['rm', '-f', '-t', '0', ...ids]), env, 30_000);
          if (r.code !== 0) forced.push(`podman rm -f: ${r.err.trim()}`);
        }
      }
      finish(dir, [], seen, forced, () => {
        const leaks: string[] = [];
        for (const c of seen.values()) {
          if (c.netns && existsSync(c.netns)) leaks.push(`netns ${c.netns}`);
        }
        return leaks;
      });
    },
  };
  track(self);
  try {
    for (const d of ['cni/net.d', 'cni/bin', 'storage', 'run', 'tmp', 'runc', 'bin', 'rootfs'])
      mkdirSync(p(d), { recursive: true });
    if (existsSync('/usr/lib/cni'))
      for (const f of readdirSync('/usr/lib/cni')) symlinkSync(join('/usr/lib/cni', f), join(cniBinDir, f));
    // runc's state under the instance (podman 4.3 has no runtime flags in containers.conf; it
    // would use /run/runc): a wrapper is the configured runtime path.
    writeFileSync(p('bin/runc'), `#!/bin/sh\nexec /usr/bin/runc --root ${p('runc')} "$@"\n`);
    chmodSync(p('bin/runc'), 0o755);
    const q = (s: string): string => JSON.stringify(s);
    writeFileSync(
      p('containers.conf'),
      [
        '[containers]',
        // podman's default rlimits (1048576) are above this machine's hard limit: runc fails.
        'default_ulimits = ["nofile=1024:1024", "nproc=1024:1024"]',
        '',
        '[engine]',
        'cgroup_manager = "cgroupfs"',
        'events_logger = "file"',
        `events_logfile_path = ${q(p('events.log'))}`,
        // File locks in tmp_dir: the default SHM segment /dev/shm/libpod_lock is machine-wide,
        // and a podman whose tmp_dir is new (ours always is) re-creates it.
        'lock_type = "file"',
        `tmp_dir = ${q(p('tmp'))}`,
        `static_dir = ${q(p('storage/libpod'))}`,
        `volume_path = ${q(p('storage/volumes'))}`,
        'runtime = "runc"',
        '',
        '[engine.runtimes]',
        `runc = [${q(p('bin/runc'))}]`,
        '',
        '[network]',
        'network_backend = "cni"',
        `network_config_dir = ${q(cniConfDir)}`,
        `cni_plugin_dirs = [${q(cniBinDir)}]`,
        '',
      ].join('\n'),
    );
    writeFileSync(
      p('storage.conf'),
      ['[storage]', 'driver = "vfs"', `graphroot = ${q(p('storage'))}`, `runroot = ${q(p('run'))}`, ''].join('\n'),
    );
    writeFileSync(
      p('registries.conf'),
      '# no registries: netctl tests never pull\nunqualified-search-registries = []\n',
    );
  } catch (e) {
    failed(self, e);
  }
  return self;
}

// ---------------------------------------------------------------------------------------------
// containerd for ctr

/**
 * A private containerd. run() is `ctr -n NS run -d --null-io --cgroup "" --runc-root <own> [extra]
 * --rootfs <copy> ID /bin/sleep 3600`: the cgroup is /ID below containerd's (runc removes it with
 * the task), so ids must be unique on the machine (h.name(x) is); pid() reads `ctr task ls`.
 */
export interface Containerd extends Instance {
  sock: string;
  /** The containerd namespace run() uses (netctl's reference: `ctr:${ns}/${id}`). */
  ns: string;
  /** ctr against this containerd (-n ns unless the args give one). */
  ctr(...args: string[]): Result;
  /** The rootfs copy run() gave task ID (its /etc is empty: ctr writes no resolv.conf). */
  rootfs(id: string): string;
}

export async function startContainerd(h: TestHost, ns: string = h.tag): Promise<Containerd> {
  const dir = makeOwnDir('ctr');
  const sock = join(dir, 'containerd.sock');
  const forced: string[] = [];
  const seen = new Map<string, Seen>();
  let cd: Awaited<ReturnType<typeof runContainerd>> | undefined;
  let stopped = false;
  const env = { CONTAINERD_ADDRESS: sock, CONTAINERD_NAMESPACE: ns };
  const ctr = (...args: string[]): Result => sh('ctr', ['-a', sock, ...args], env);
  const tasks = (n: string): Array<{ id: string; pid: number; status: string }> =>
    ctr('-n', n, 'task', 'ls')
      .out.split('\n')
      .slice(1)
      .map((l) => l.trim().split(/\s+/))
      .filter((f) => f[0])
      .map((f) => ({ id: f[0] ?? '', pid: Number(f[1]), status: f[2] ?? '' }));

  const self: Containerd = {
    dir,
    sock,
    ns,
    env,
    forced,
    ctr,
    run(id, ...extra) {
      if (!/^[A-Za-z0-9][A-Za-z0-9_.-]*$/.test(id)) throw new Error(`ctr run: bad id ${id}`);
      const rootfs = makeRootfs(self.rootfs(id));
      must(
        ctr(
          '-n',
          ns,
          'run',
          '-d',
          '--null-io',
          '--cgroup',
          '',
          '--runc-root',
          join(dir, 'runc'),
          ...extra,
          '--rootfs',
          rootfs,
          id,
          '/bin/sleep',
          '3600',
        ),
        `ctr run ${id}`,
      );
      seen.set(`${ns}/${id}`, seenOf(self.pid(id)));
      return id;
    },
    pid(id) {
      return tasks(ns).find((t) => t.id === id)?.pid ?? 0;
    },
    rootfs: (id) => join(dir, 'rootfs', id),
    stop() {
      if (stopped) return;
      stopped = true;
      running.delete(self);
      checkOwnDir(dir);
      if (alive(cd?.pid)) {
        for (const n of ctr('namespaces', 'ls', '-q').out.split('\n').filter(Boolean)) {
          const ts = tasks(n);
          for (const t of ts) {
            if (!seen.has(`${n}/${t.id}`)) seen.set(`${n}/${t.id}`, seenOf(t.pid));
            ctr('-n', n, 'task', 'kill', '-s', 'SIGKILL', t.id);
          }
          for (const t of ts) {
            const end = Date.now() + 5000;
            while (ctr('-n', n, 'task', 'rm', t.id).code !== 0 && Date.now() < end) sleepSync(50);
            if (ctr('-n', n, 'task', 'rm', '-f', t.id).code === 0) forced.push(`ctr task rm -f ${n}/${t.id}`);
          }
          for (const c of ctr('-n', n, 'containers', 'ls', '-q').out.split('\n').filter(Boolean)) {
            if (!seen.has(`${n}/${c}`)) seen.set(`${n}/${c}`, seenOf(0));
            const r = ctr('-n', n, 'containers', 'rm', c);
            if (r.code !== 0) forced.push(`ctr containers rm ${n}/${c}: ${r.err.trim()}`);
          }
        }
      }
      stopDaemon(cd?.pid, 10_000, 'containerd', forced);
      finish(dir, [cd?.pid], seen, forced, () => {
        const leaks: string[] = [];
        for (const key of seen.keys()) {
          const [n = '', id = ''] = key.split('/');
          const s = shimSocket(sock, n, id);
          if (existsSync(s)) {
            rmSync(s, { force: true }); // named by a hash of our own socket's path: ours
            forced.push(`removed shim socket ${s}`);
          }
        }
        return leaks;
      });
    },
  };
  track(self);
  try {
    mkdirSync(join(dir, 'runc'));
    cd = await runContainerd(h, dir);
  } catch (e) {
    failed(self, e);
  }
  return self;
}
