// Containers of real runtimes on netctl networks (reference §15): a private dockerd, podman 4.3
// and containerd's ctr, each started by this file inside its test host namespace
// (helpers/runtimes.ts). One netctl network holds a Docker, a podman and a containerd container
// and a netctl sandbox; they reach each other by address and by name.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { after, before, describe, it } from 'node:test';
import { TestHost, isRoot, run } from '../helpers/host.js';
import {
  hasCtr,
  hasDocker,
  hasPodman,
  startContainerd,
  startDocker,
  startPodman,
  type Containerd,
  type Docker,
  type Podman,
} from '../helpers/runtimes.js';

const GW = '10.246.1.1';
const ready = isRoot && hasDocker() && hasPodman() && hasCtr();

/** `nslookup NAME. SERVER` from inside a namespace (busybox tries search domains without the dot). */
const lookup = (netns: string, name: string): string => {
  const r = run('nsenter', [`--net=${netns}`, 'busybox', 'nslookup', `${name}.`, GW]);
  return /Address:\s*(\d+\.\d+\.\d+\.\d+)\s*$/m.exec(r.out.split(/Name:/)[1] ?? '')?.[1] ?? '';
};

describe(
  'containers of Docker, podman and containerd on one netctl network',
  { skip: !ready && 'needs root and the runtimes' },
  () => {
    let h: TestHost;
    let d: Docker;
    let p: Podman;
    let c: Containerd;
    let peer: string;
    let web: string, pm: string, ct: string;

    before(async () => {
      h = new TestHost();
      d = await startDocker(h);
      p = startPodman(h);
      c = await startContainerd(h);
      Object.assign(h.env, d.env, p.env, c.env);
      h.ok('create', '--subnet', '10.246.1.0/24', 'mixed');
      peer = h.name('peer');
      h.ok('sandbox', 'create', peer, '--net', 'mixed', '--ip', '10.246.1.10');
      [web, pm, ct] = [h.name('web'), h.name('pm'), h.name('ct')];
      d.run(web);
      p.run(pm);
      c.run(ct);
    });
    after(() => {
      const leaks = h.cleanup();
      for (const r of [d, p, c]) r?.stop();
      assert.deepEqual(leaks, [], 'nothing leaked');
    });

    it('docker:NAME, podman:NAME and ctr:NS/ID join as sandboxes named after their containers', () => {
      h.ok('connect', 'mixed', `docker:${web}`, '--ip', '10.246.1.20', '--alias', 'frontend');
      h.ok('connect', 'mixed', `podman:${pm}`, '--ip', '10.246.1.21');
      h.ok('connect', 'mixed', `ctr:${c.ns}/${ct}`, '--ip', '10.246.1.22');
      const ls = h.ok('sandbox', 'ls', '--format', '{{.Name}} {{.State}} {{.Networks}}');
      for (const n of [web, pm, ct]) assert.match(ls, new RegExp(`^${n} running mixed$`, 'm'));
      const [info] = JSON.parse(h.ok('sandbox', 'inspect', `docker:${web}`)) as Array<{ Runtime: { Ref: string } }>;
      assert.equal(info?.Runtime.Ref, `docker:${web}`);
      // No bind mount of netctl's holds a container's namespace.
      const mounts = readFileSync('/proc/self/mountinfo', 'utf8');
      for (const n of [web, pm, ct]) assert.doesNotMatch(mounts, new RegExp(` /run/netns/${n} `));
    });

    it('they reach each other and the netctl sandbox by address', () => {
      const inDocker = (ip: string) => d.docker('exec', web, 'ping', '-c1', '-W2', ip).code === 0;
      assert.ok(inDocker('10.246.1.21'), 'docker -> podman');
      assert.ok(inDocker('10.246.1.22'), 'docker -> containerd');
      assert.ok(inDocker('10.246.1.10'), 'docker -> netctl sandbox');
      assert.ok(h.ping(peer, '10.246.1.20'), 'netctl sandbox -> docker');
      const fromPodman = run('nsenter', [`--net=/proc/${p.pid(pm)}/ns/net`, 'ping', '-c1', '-W2', '10.246.1.22']);
      assert.equal(fromPodman.code, 0, 'podman -> containerd');
    });

    it('and by name, from inside each container, through the resolver', () => {
      for (const pid of [d.pid(web), p.pid(pm), c.pid(ct)]) {
        const ns = `/proc/${pid}/ns/net`;
        assert.equal(lookup(ns, peer), '10.246.1.10');
        assert.equal(lookup(ns, pm), '10.246.1.21');
        assert.equal(lookup(ns, ct), '10.246.1.22');
        assert.equal(lookup(ns, 'frontend'), '10.246.1.20');
      }
    });

    it("Docker's resolv.conf for the container names the resolver; --dns-config keep leaves another alone", () => {
      const conf = readFileSync(d.inspect(web).ResolvConfPath, 'utf8');
      assert.deepEqual(conf.match(/^nameserver .*$/gm), [`nameserver ${GW}`]);
      assert.equal(d.docker('exec', web, 'cat', '/etc/resolv.conf').out, conf, 'what the container reads');
      const kept = h.name('kept');
      d.run(kept);
      const before = readFileSync(d.inspect(kept).ResolvConfPath, 'utf8');
      h.ok('connect', 'mixed', `docker:${kept}`, '--dns-config', 'keep');
      assert.equal(readFileSync(d.inspect(kept).ResolvConfPath, 'utf8'), before);
      const bad = h.netctl('connect', 'mixed', `docker:${kept}`, '--dns-config', 'maybe');
      assert.equal(bad.code, 125);
      h.ok('disconnect', 'mixed', `docker:${kept}`);
      h.ok('sandbox', 'rm', `docker:${kept}`);
      d.docker('rm', '-f', kept);
    });

    it('a container restarted by Docker: exited, then re-adopted with its address by connect', () => {
      d.docker('restart', '-t', '0', web);
      assert.match(h.ok('sandbox', 'ls', '--format', '{{.Name}} {{.State}}'), new RegExp(`^${web} exited$`, 'm'));
      h.ok('connect', 'mixed', `docker:${web}`);
      assert.ok(h.ping(peer, '10.246.1.20'), 'its address is back');
      assert.equal(lookup(`/proc/${d.pid(web)}/ns/net`, 'frontend'), '10.246.1.20', 'its recorded alias too');
      d.docker('restart', '-t', '0', web);
      h.ok('sandbox', 'start', `docker:${web}`);
      assert.ok(h.ping(peer, '10.246.1.20'), 'and by sandbox start');
    });

    it('a removed container: its names go at the next command, prune releases its address', () => {
      d.docker('rm', '-f', web);
      assert.match(h.ok('sandbox', 'ls', '--format', '{{.Name}} {{.State}}'), new RegExp(`^${web} exited$`, 'm'));
      h.ok('disconnect', 'mixed', `podman:${pm}`);
      assert.equal(lookup(`/proc/${c.pid(ct)}/ns/net`, web), '', 'gone from the resolver');
      assert.equal(h.ok('sandbox', 'prune').trim(), web);
      const again = h.name('again');
      d.run(again);
      h.ok('connect', 'mixed', `docker:${again}`, '--ip', '10.246.1.20');
      h.ok('sandbox', 'rm', `docker:${again}`);
    });

    it('refuses a container on the host network, and names a missing one', () => {
      const hn = h.name('hostnet');
      assert.equal(d.docker('run', '-d', '--network', 'host', '--name', hn, 'bb', 'sleep', '3600').code, 0);
      const r = h.netctl('connect', 'mixed', `docker:${hn}`);
      assert.equal(r.code, 1);
      assert.equal(r.err, `Error: docker:${hn} is the host's own network namespace (use --net host)\n`);
      d.docker('rm', '-f', hn);
      const gone = h.netctl('connect', 'mixed', 'docker:nosuch');
      assert.equal(gone.code, 1);
      assert.match(gone.err, /^Error: No such container: docker:nosuch/);
    });
  },
);
