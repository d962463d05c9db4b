// npm run bench, resolver part (docs/reference.md §14): netctl's resolver beside aardvark-dns 1.4
// (podman's, run as netavark runs it: a config directory, SIGHUP on change), both with the same
// upstream, a DNS server this bench runs in a namespace of its own (never this machine's
// resolver). Per resolver: answer latency p50/p99 for a local and a forwarded name; how long
// after a change returns the new name resolves; 2,000 queries a second for 10 s while 50
// connects and disconnects run (lost, late); resident memory at 100 names, and at 100 networks
// x 100 names; and for netctl, what starting the resolver adds to the first connect.
// Prints a markdown section on stdout (run.sh puts it into docs/performance.md).
import { spawn, spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createConnection } from 'node:net';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { TestHost } from '../dist/test/helpers/host.js';

const TOOL = fileURLToPath(new URL('../dist/test/helpers/dns-tool.js', import.meta.url));
const RESOLVER = fileURLToPath(new URL('../dist/src/bundle/resolver.cjs', import.meta.url));
const AARDVARK = '/usr/lib/podman/aardvark-dns';
const QPS = Number(process.env.DNS_QPS ?? 2000);
const SECONDS = Number(process.env.DNS_SECONDS ?? 10);
const CHURN = 50;

const sh = (file, args, input) => spawnSync(file, args, { encoding: 'utf8', input });
const must = (r, what) => {
  if (r.status !== 0) throw new Error(`${what}: ${r.stderr || r.stdout}`);
  return r.stdout;
};
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? NaN;
const rssMB = (pid) => Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1] ?? NaN) / 1024;
/** A named netns, or a process's (`/proc/PID/ns/net`, a container's). */
const nsPath = (ns) => (ns.startsWith('/') ? ns : `/var/run/netns/${ns}`);
/** The dns-tool in `ns`, its one JSON line. */
const tool = (ns, ...args) =>
  JSON.parse(must(sh('nsenter', [`--net=${nsPath(ns)}`, process.execPath, TOOL, ...args]), args[0]));
const toolAsync = (ns, ...args) =>
  new Promise((resolve, reject) => {
    const p = spawn('nsenter', [`--net=${nsPath(ns)}`, process.execPath, TOOL, ...args]);
    let out = '';
    p.stdout.on('data', (d) => (out += d));
    p.on('close', () => {
      try {
        resolve(JSON.parse(out));
      } catch {
        reject(new Error(`dns-tool ${args[0]}: ${out}`));
      }
    });
  });

/** How long after `change()` returns `name` resolves at `server` from `ns` (0: at once). */
async function lag(ns, server, name, change) {
  const until = toolAsync(ns, 'until', server, name);
  await sleep(150); // the poller runs
  change();
  const returned = Date.now();
  const { at } = await until;
  return Math.max(0, at - returned);
}

const h = new TestHost({ tag: `ncbd${process.pid % 1000}` });
const upstreamNs = h.outside(); // 192.0.2.2, linked to the host at 192.0.2.1
const etcHost = `/etc/netns/${h.ns}`;
const extra = []; // namespaces and directories of the aardvark part
let upstream;
const rows = [];
try {
  // ---------------------------------------------------------------- the upstream
  upstream = spawn('nsenter', [
    `--net=/var/run/netns/${upstreamNs}`,
    process.execPath,
    TOOL,
    'serve',
    '0.0.0.0',
    JSON.stringify({ 'ext.bench.test': '198.51.100.7' }),
  ]);
  await new Promise((r) => upstream.stdout.once('data', r));
  mkdirSync(etcHost, { recursive: true });
  writeFileSync(`${etcHost}/resolv.conf`, 'nameserver 192.0.2.2\n');

  // ---------------------------------------------------------------- netctl
  h.ok('create', '--subnet', '10.99.0.0/16', 'dnsnet');
  h.ok('create', '--subnet', '10.97.0.0/16', '-o', 'netctl.dns=false', 'offnet');
  // What starting the resolver adds to the first connect: alternate a create on a network with
  // a resolver (none running: it starts) and one on a network without.
  const on = [];
  const off = [];
  for (let i = 0; i < 10; i++)
    for (const [net, into] of [
      ['dnsnet', on],
      ['offnet', off],
    ]) {
      const s = h.name('first');
      const t0 = process.hrtime.bigint();
      h.ok('sandbox', 'create', s, '--net', net);
      into.push(Number(process.hrtime.bigint() - t0) / 1e6);
      h.ok('sandbox', 'rm', s);
    }
  const firstAdds = median(on) - median(off);

  const names = Array.from({ length: 100 }, (_, i) => h.name(`n${i}`));
  names.forEach((n) => h.foreignNetns(n));
  h.ok('connect', 'dnsnet', ...names);
  const q = names[0];
  const ncLocal = tool(q, 'latency', '10.99.0.1', names[1], '2000');
  const ncFwd = tool(q, 'latency', '10.99.0.1', 'ext.bench.test', '500');
  const ncLag = [];
  for (let i = 0; i < 10; i++) {
    const s = h.name(`late${i}`);
    h.foreignNetns(s);
    ncLag.push(await lag(q, '10.99.0.1', s, () => h.ok('connect', 'dnsnet', s)));
    h.ok('sandbox', 'rm', s);
  }
  const churn = h.name('churn');
  h.foreignNetns(churn);
  const ncLoadP = toolAsync(q, 'load', '10.99.0.1', names[1], String(QPS), String(SECONDS));
  let ncCycles = 0;
  const t0 = Date.now();
  while (ncCycles < CHURN && Date.now() - t0 < SECONDS * 1000) {
    h.ok('connect', 'dnsnet', churn);
    h.ok('disconnect', 'dnsnet', churn);
    ncCycles++;
  }
  const ncLoad = await ncLoadP;
  const [pid] = h.resolverPids();
  const ncRss = rssMB(pid);

  // 100 networks x 100 names, given to a resolver by hand (10,000 sandboxes would take the
  // bench an hour to make): a bridge in a namespace of its own carries the 100 gateways.
  const bigNs = `${h.tag}big`;
  const bigRoot = mkdtempSync('/tmp/netctl-bench-dns-');
  extra.push(
    () => rmSync(bigRoot, { recursive: true, force: true }),
    () => sh('ip', ['netns', 'del', bigNs]),
  );
  must(sh('ip', ['netns', 'add', bigNs]), 'netns');
  const batch = ['link set lo up', 'link add bigbr type bridge', 'link set bigbr up'];
  for (let n = 0; n < 100; n++) batch.push(`addr add 10.${100 + Math.floor(n / 50)}.${n % 50}.1/24 dev bigbr`);
  must(sh('ip', ['-n', bigNs, '-batch', '-'], batch.join('\n') + '\n'), 'bridge');
  const view = { networks: [], endpoints: [], sandboxes: {} };
  for (let n = 0; n < 100; n++) {
    const net = `net${n}`;
    const base = `10.${100 + Math.floor(n / 50)}.${n % 50}`;
    view.networks.push({ id: net, name: net, internal: false, listen: [`${base}.1`] });
    for (let i = 0; i < 100; i++) {
      const sb = `sb${n}x${i}`;
      view.endpoints.push({ ip: `${base}.${i + 2}`, net, sb });
      view.sandboxes[sb] = {
        name: `c${n}x${i}`,
        short: sb.padEnd(12, '0').slice(0, 12),
        aliases: {},
        servers: [],
        search: [],
        forward: true,
      };
    }
  }
  // Started with the flags netctl gives it (src/dns/control.ts).
  const args = ['--max-semi-space-size=1', RESOLVER, '--root', bigRoot];
  const big = spawn('nsenter', [`--net=/var/run/netns/${bigNs}`, process.execPath, ...args], {
    stdio: ['ignore', 'ignore', 'ignore', 'pipe'],
  });
  await new Promise((r) => big.stdio[3].once('data', r));
  const tSync = process.hrtime.bigint();
  await new Promise((resolve, reject) => {
    const c = createConnection({ path: join(bigRoot, 'resolver.sock') });
    c.on('connect', () => c.write(JSON.stringify({ op: 'sync', digest: 'big', view }) + '\n'));
    c.on('data', resolve);
    c.on('error', reject);
  });
  const bigSyncMs = Number(process.hrtime.bigint() - tSync) / 1e6;
  await sleep(500);
  const ncBigRss = rssMB(big.pid);
  big.kill();

  rows.push({
    who: 'netctl',
    local: ncLocal,
    fwd: ncFwd,
    lag: ncLag,
    load: ncLoad,
    cycles: ncCycles,
    rss: ncRss,
    bigRss: ncBigRss,
    note:
      `resolver start adds ${firstAdds.toFixed(1)} ms to the first connect ` +
      `(median ${median(on).toFixed(1)} vs ${median(off).toFixed(1)} ms); ` +
      `a view of 100 x 100 names applied in ${bigSyncMs.toFixed(1)} ms`,
  });

  // ---------------------------------------------------------------- aardvark-dns
  if (spawnSync(AARDVARK, ['--version']).status === 0) rows.push(await aardvark());
  else rows.push({ who: 'aardvark-dns', missing: true });
  // ---------------------------------------------------------------- Docker's embedded DNS
  if (docker('info').status === 0) rows.push(await dockerDns());
  else rows.push({ who: "Docker's embedded DNS", missing: true });
} finally {
  upstream?.kill();
  for (const f of extra.reverse()) f();
  rmSync(etcHost, { recursive: true, force: true });
  h.cleanup();
}

/** The bench's Docker engine (../shared/bench/setup-peers.sh), in its own namespace. */
function docker(...args) {
  return spawnSync('docker', args, {
    encoding: 'utf8',
    env: { ...process.env, DOCKER_HOST: 'unix:///tmp/netctl-bench/docker.sock' },
  });
}

/**
 * Docker's embedded DNS (127.0.0.11 in each container of a user-defined network), with the
 * same upstream: a second link from the engine's namespace to the upstream's, and --dns.
 * Fewer containers than the others (each docker run takes ~0.5 s here): 10 names.
 */
async function dockerDns() {
  const ENGINE = 'netctl-bench';
  const net = `${h.tag}dn`;
  const up = `${h.tag}du`;
  const names = Array.from({ length: 10 }, (_, i) => `${h.tag}c${i}`);
  const made = [];
  // Run in reverse: the containers, then their network, then the link.
  extra.push(
    () => sh('ip', ['-n', ENGINE, 'link', 'del', up]),
    () => docker('network', 'rm', net),
    () => made.length && docker('rm', '-f', ...made),
  );
  must(
    sh('ip', ['-n', ENGINE, 'link', 'add', up, 'type', 'veth', 'peer', 'name', 'eth2', 'netns', upstreamNs]),
    'veth',
  );
  must(sh('ip', ['-n', ENGINE, '-batch', '-'], `addr add 192.0.5.1/24 dev ${up}\nlink set ${up} up\n`), 'engine side');
  must(sh('ip', ['-n', upstreamNs, '-batch', '-'], 'addr add 192.0.5.2/24 dev eth2\nlink set eth2 up\n'), 'upstream');
  // A subnet of Docker's own choosing: none of the peers' networks overlaps it.
  must(docker('network', 'create', net), 'network');
  const run = (name) => {
    must(docker('run', '-d', '--network', net, '--dns', '192.0.5.2', '--name', name, 'bb', 'sleep', '3600'), name);
    made.push(name);
  };
  names.forEach(run);
  const pid = must(docker('inspect', '-f', '{{.State.Pid}}', names[0]), 'inspect').trim();
  // The tool runs in the querier's network namespace, as the others' do (nsenter by pid).
  const q = `/proc/${pid}/ns/net`;
  const local = tool(q, 'latency', '127.0.0.11', names[1], '2000');
  const fwd = tool(q, 'latency', '127.0.0.11', 'ext.bench.test', '500');
  const lags = [];
  for (let i = 0; i < 10; i++) {
    const name = `${h.tag}late${i}`;
    const until = toolAsync(q, 'until', '127.0.0.11', name);
    await sleep(150);
    run(name);
    const returned = Date.now();
    lags.push(Math.max(0, (await until).at - returned));
    docker('rm', '-f', name);
    made.pop();
  }
  const churn = `${h.tag}churn`;
  must(docker('run', '-d', '--network', 'none', '--name', churn, 'bb', 'sleep', '3600'), churn);
  made.push(churn);
  const loadP = toolAsync(q, 'load', '127.0.0.11', names[1], String(QPS), String(SECONDS));
  let cycles = 0;
  const t0 = Date.now();
  while (cycles < CHURN && Date.now() - t0 < SECONDS * 1000) {
    docker('network', 'connect', net, churn);
    docker('network', 'disconnect', net, churn);
    cycles++;
  }
  const load = await loadP;
  return {
    who: "Docker's embedded DNS (20.10)",
    local,
    fwd,
    lag: lags,
    load,
    cycles,
    rss: NaN,
    bigRss: NaN,
    note: `10 names; changes: docker network connect/disconnect; lag after docker run returns; memory: inside dockerd`,
  };
}

/** aardvark-dns 1.4 with the same shape: a bridge, 100 names, a querier, the same upstream. */
async function aardvark() {
  const A = `${h.tag}ad`;
  const dir = mkdtempSync('/tmp/netctl-bench-aardvark-');
  const etc = `/etc/netns/${A}`;
  let pid = 0;
  const queriers = [];
  // Run in reverse: aardvark-dns first, then its files and namespaces.
  extra.push(
    () => queriers.forEach((n) => sh('ip', ['netns', 'del', n])),
    () => sh('ip', ['netns', 'del', A]),
    () => rmSync(etc, { recursive: true, force: true }),
    () => rmSync(dir, { recursive: true, force: true }),
    () => pid && sh('kill', [String(pid)]),
  );
  must(sh('ip', ['netns', 'add', A]), 'netns');
  // The upstream's namespace gets a second link, to this host.
  const up = `${h.tag}au`;
  must(sh('ip', ['-n', A, 'link', 'add', up, 'type', 'veth', 'peer', 'name', 'eth1', 'netns', upstreamNs]), 'veth');
  const batch = [
    'link set lo up',
    'link add ab0 type bridge',
    'addr add 10.98.0.1/16 dev ab0',
    'link set ab0 up',
    `addr add 192.0.3.1/24 dev ${up}`,
    `link set ${up} up`,
  ];
  must(sh('ip', ['-n', A, '-batch', '-'], batch.join('\n') + '\n'), 'host');
  must(sh('ip', ['-n', upstreamNs, '-batch', '-'], 'addr add 192.0.3.2/24 dev eth1\nlink set eth1 up\n'), 'upstream');
  // A querier (the first container) on the bridge.
  const q = `${h.tag}aq`;
  queriers.push(q);
  must(sh('ip', ['netns', 'add', q]), 'querier');
  must(sh('ip', ['-n', A, 'link', 'add', 'vq', 'type', 'veth', 'peer', 'name', 'eth0', 'netns', q]), 'veth');
  must(sh('ip', ['-n', A, '-batch', '-'], 'link set vq master ab0\nlink set vq up\n'), 'port');
  must(sh('ip', ['-n', q, '-batch', '-'], 'link set lo up\naddr add 10.98.0.2/16 dev eth0\nlink set eth0 up\n'), 'q');
  const id = (i) => i.toString(16).padStart(64, '0');
  const lines = Array.from({ length: 100 }, (_, i) => `${id(i + 1)} 10.98.0.${i + 2}  c${i}`);
  const write = (more = []) => writeFileSync(join(dir, 'abnet'), ['10.98.0.1', ...lines, ...more].join('\n') + '\n');
  write();
  mkdirSync(etc, { recursive: true });
  writeFileSync(`${etc}/resolv.conf`, 'nameserver 192.0.3.2\n');
  // As netavark starts it: it daemonizes and writes its pid file.
  must(sh('ip', ['netns', 'exec', A, AARDVARK, '--config', dir, '-p', '53', 'run']), 'aardvark-dns');
  for (let i = 0; i < 50 && !pid; i++) {
    await sleep(20);
    pid = Number(readFileSync(join(dir, 'aardvark.pid'), 'utf8').trim() || 0);
  }
  await sleep(200);
  const hup = () => sh('kill', ['-HUP', String(pid)]);
  const local = tool(q, 'latency', '10.98.0.1', 'c1', '2000');
  const fwd = tool(q, 'latency', '10.98.0.1', 'ext.bench.test', '500');
  const lags = [];
  for (let i = 0; i < 10; i++) {
    lags.push(
      await lag(q, '10.98.0.1', `late${i}`, () => (write([`${id(500 + i)} 10.98.1.${i + 2}  late${i}`]), hup())),
    );
    write();
    hup();
  }
  const loadP = toolAsync(q, 'load', '10.98.0.1', 'c1', String(QPS), String(SECONDS));
  let cycles = 0;
  const t0 = Date.now();
  while (cycles < CHURN && Date.now() - t0 < SECONDS * 1000) {
    write([`${id(999)} 10.98.2.2  churn`]);
    hup();
    await sleep(70); // about a netctl connect's time, as netavark would take for its own work
    write();
    hup();
    await sleep(70);
    cycles++;
  }
  const load = await loadP;
  const rss = rssMB(pid);
  // 100 networks x 100 names: one file per network, the gateways on the bridge.
  sh('kill', [String(pid)]);
  await sleep(200);
  const gw = [];
  for (let n = 0; n < 100; n++) {
    const base = `10.${100 + Math.floor(n / 50)}.${n % 50}`;
    gw.push(`addr add ${base}.1/24 dev ab0`);
    writeFileSync(
      join(dir, `net${n}`),
      [`${base}.1`, ...Array.from({ length: 100 }, (_, i) => `${id(n * 1000 + i)} ${base}.${i + 2}  c${n}x${i}`)].join(
        '\n',
      ) + '\n',
    );
  }
  must(sh('ip', ['-n', A, '-batch', '-'], gw.join('\n') + '\n'), 'gateways');
  rmSync(join(dir, 'aardvark.pid'), { force: true });
  must(sh('ip', ['netns', 'exec', A, AARDVARK, '--config', dir, '-p', '53', 'run']), 'aardvark-dns');
  pid = 0;
  for (let i = 0; i < 100 && !pid; i++) {
    await sleep(20);
    try {
      pid = Number(readFileSync(join(dir, 'aardvark.pid'), 'utf8').trim() || 0);
    } catch {
      // not yet
    }
  }
  await sleep(1000);
  const bigRss = rssMB(pid);
  return {
    who: 'aardvark-dns 1.4',
    local,
    fwd,
    lag: lags,
    load,
    cycles,
    rss,
    bigRss,
    note: 'changes: config file rewritten + SIGHUP, as netavark does',
  };
}

// ---------------------------------------------------------------- report
const f = (x) => (Number.isFinite(x) ? x.toFixed(2) : 'NA');
const mb = (x) => (Number.isFinite(x) ? `${x.toFixed(1)} MB` : 'n/a');
console.log(`## Names for every container: netctl's resolver beside aardvark-dns and Docker's embedded DNS

Same machine, same upstream (a DNS server in a bench namespace), one querier, 100 names on the
network. ${QPS} queries a second for ${SECONDS} s (a local name) while a container joins and leaves
(connect and disconnect for netctl, docker network connect and disconnect for Docker, a config
rewrite and SIGHUP for aardvark-dns, as netavark does). Late: answered
after more than 1 s. Lag: from the change returning to the new name answering (10 changes).

| resolver | local p50 / p99 | forwarded p50 / p99 | lag median / max | load: answered / lost / late |\
 changes during load | RSS, 100 names | RSS, 100 x 100 |
|---|---|---|---|---|---|---|---|`);
for (const r of rows) {
  if (r.missing) {
    console.log(`| ${r.who} | not installed | | | | | | |`);
    continue;
  }
  console.log(
    `| ${r.who} | ${f(r.local.p50)} / ${f(r.local.p99)} ms | ${f(r.fwd.p50)} / ${f(r.fwd.p99)} ms | ` +
      `${median(r.lag)} / ${Math.max(...r.lag)} ms | ` +
      `${r.load.answered} / ${r.load.lost} / ${r.load.late} of ${r.load.sent} ` +
      `(p99 ${f(r.load.p99)} ms) | ${r.cycles} | ${mb(r.rss)} | ${mb(r.bigRss)} |`,
  );
}
console.log('');
for (const r of rows) if (r.note) console.log(`- ${r.who}: ${r.note}.`);
