// npm run bench, ten hosts: the tests' underlay (test/helpers/cluster.ts) with ten host
// namespaces and one real etcd, agents on every host, 20 endpoints per host on two overlays.
// Measures, for new connects on one host: the time from the connect's return until the new
// endpoint answers a ping from each of the nine other hosts (p50/p99), etcd's requests and bytes
// per connect (its /metrics, so the agents' reads count), watch events per host per connect, the
// agents' resident memory, and the time a partitioned host takes to converge after it heals.
// Prints a markdown section on stdout (docs/scale.md quotes it).
import { spawn, spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import { Cluster } from '../dist/test/helpers/cluster.js';

const HOSTS = Number(process.env.HOSTS ?? 10);
const PER = Number(process.env.PER_HOST ?? 10); // endpoints per host per overlay
const R = Number(process.env.SCALE_REPS ?? 20);
const pct = (xs, p) => {
  const s = xs.filter(Number.isFinite).sort((a, b) => a - b);
  return s.length ? (s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))] ?? NaN) : NaN;
};
const ping = (ns, ip) =>
  new Promise((resolve) => {
    const p = spawn('ip', ['netns', 'exec', ns, 'ping', '-c1', '-W1', '-q', ip], { stdio: 'ignore' });
    p.on('close', (code) => resolve(code === 0));
  });
/** Milliseconds until every pinger reaches `ip` (each pinger retried until it answers), NaN past 10 s. */
async function converge(pingers, ip, t0) {
  const left = new Set(pingers);
  while (left.size && Number(process.hrtime.bigint() - t0) / 1e6 < 10_000) {
    const results = await Promise.all([...left].map(async (ns) => [ns, await ping(ns, ip)]));
    for (const [ns, ok] of results) if (ok) left.delete(ns);
    if (left.size) await sleep(10);
  }
  return left.size ? NaN : Number(process.hrtime.bigint() - t0) / 1e6;
}
/** etcd's counters, from /metrics on its client port (read from inside its namespace). */
function metrics(c) {
  const m = new Map();
  const text =
    spawnSync(
      'nsenter',
      [
        `--net=/var/run/netns/${c.etcdNs}`,
        process.execPath,
        '-e',
        "fetch('http://192.0.2.100:2379/metrics').then((r) => r.text()).then((t) => process.stdout.write(t))",
      ],
      { encoding: 'utf8' },
    ).stdout ?? '';
  for (const line of text.split('\n')) {
    const x = /^([a-z_]+)(\{[^}]*\})? ([0-9.e+-]+)$/.exec(line);
    if (!x) continue;
    const [, name, labels = '', v] = x;
    const method = /grpc_method="(\w+)"/.exec(labels)?.[1] ?? '';
    const key = name === 'grpc_server_handled_total' ? `${name}:${method}` : name;
    m.set(key, (m.get(key) ?? 0) + Number(v));
  }
  return m;
}
const rssMB = (pid) => Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1] ?? NaN) / 1024;

const c = await Cluster.start({ hosts: HOSTS });
try {
  const h1 = c.hosts[0];
  h1.ok('create', '-d', 'overlay', '--subnet', '10.236.0.0/16', 'sa');
  h1.ok('create', '-d', 'overlay', '--subnet', '10.237.0.0/16', 'sb');
  const agents = c.hosts.map((h) => c.startAgent(h));
  // 20 endpoints per host on two overlays: one connect of PER sandboxes per network per host.
  for (const h of c.hosts) {
    for (const net of ['sa', 'sb']) {
      const names = Array.from({ length: PER }, (_, i) => h.name(`${net}${i}`));
      for (const n of names) h.ok('sandbox', 'create', n, '--net', 'none');
      h.ok('connect', net, ...names);
    }
  }
  await sleep(3000); // every agent programs what the others made
  const pingers = c.hosts.slice(1).map((h) => h.name('sa0'));
  const before = metrics(c);
  const conv = [];
  for (let i = 0; i < R; i++) {
    const s = h1.name(`new${i}`);
    h1.ok('sandbox', 'create', s, '--net', 'none');
    h1.ok('connect', 'sa', s);
    const t0 = process.hrtime.bigint();
    const ip = (h1.addrs(s)['eth0']?.[0] ?? '').split('/')[0];
    conv.push(await converge(pingers, ip, t0));
  }
  await sleep(1000);
  const after = metrics(c);
  const d = (k) => ((after.get(k) ?? 0) - (before.get(k) ?? 0)) / R;
  const reqs = [...after.keys()].filter((k) => k.startsWith('grpc_server_handled_total')).reduce((n, k) => n + d(k), 0);
  const rss = agents.map((a) => rssMB(a.pid));
  // A partitioned host: connects elsewhere while it is cut off, then how long until it reaches them.
  const cut = c.hosts[HOSTS - 1];
  c.partition(cut);
  const fresh = [];
  for (let i = 0; i < 3; i++) {
    const s = h1.name(`part${i}`);
    h1.ok('sandbox', 'create', s, '--net', 'none');
    h1.ok('connect', 'sa', s);
    fresh.push((h1.addrs(s)['eth0']?.[0] ?? '').split('/')[0]);
  }
  const t0 = process.hrtime.bigint();
  await c.heal(cut);
  let heal = NaN;
  for (const ip of fresh) heal = await converge([cut.name('sa0')], ip, t0);
  await Promise.all(agents.map((a) => a.kill()));
  const f = (x) => (Number.isFinite(x) ? x.toFixed(0) : 'NA');
  console.log(`## ${HOSTS === 10 ? 'Ten' : HOSTS} hosts (${HOSTS} host namespaces, one etcd, agents on all)\n`);
  console.log(
    `${PER * 2} endpoints per host on two overlays (${HOSTS * PER * 2} in all); ${R} new connects on host1, ` +
      `each followed until a sandbox on every other host pings the new endpoint.\n`,
  );
  console.log('| measure | value |');
  console.log('|---|---:|');
  const row = (what, value) => console.log(`| ${what} | ${value} |`);
  row(
    `connect returned → answers ping from all ${HOSTS - 1} other hosts, p50 / p99`,
    `${f(pct(conv, 50))} / ${f(pct(conv, 99))} ms`,
  );
  console.log(`| etcd requests per connect (all hosts' agents included) | ${reqs.toFixed(1)} |`);
  const sent = f(d('etcd_network_client_grpc_sent_bytes_total'));
  const received = f(d('etcd_network_client_grpc_received_bytes_total'));
  row("etcd bytes sent / received per connect (the agents' reads included)", `${sent} / ${received}`);
  console.log(`| watch events per host per connect | ${(d('etcd_debugging_mvcc_events_total') / HOSTS).toFixed(1)} |`);
  console.log(
    `| agent resident memory, median / max | ${f(pct(rss, 50))} / ${f(Math.max(...rss.filter(Number.isFinite)))} MB |`,
  );
  console.log(`| a partitioned host: heal → it reaches 3 endpoints made meanwhile | ${f(heal)} ms |`);
} finally {
  await c.removeAll().catch(() => undefined);
  await c.destroy();
}
