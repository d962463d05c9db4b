// npm run bench, overlay part: on the tests' three-host underlay (test/helpers/cluster.ts: host
// namespaces on a bridge, a real etcd in its own namespace), a connect to an overlay network
// beside a connect to a bridge network on the same host, alternating; then how long after a
// connect on host1 returns a sandbox on host2 can ping it, with the agent running everywhere.
// Prints a markdown section on stdout (run.sh puts it into docs/performance.md).
import { spawnSync } from 'node:child_process';
import { setTimeout as sleep } from 'node:timers/promises';
import { Cluster } from '../dist/test/helpers/cluster.js';

const R = Number(process.env.OVERLAY_REPS ?? 15);
const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)] ?? NaN;
};
const timed = (h, ...args) => {
  const t0 = process.hrtime.bigint();
  h.ok(...args);
  return Number(process.hrtime.bigint() - t0) / 1e6;
};
const pingOnce = (ns, ip) => spawnSync('ip', ['netns', 'exec', ns, 'ping', '-c1', '-W1', '-q', ip]).status === 0;

const c = await Cluster.start();
try {
  const [h1, h2, h3] = c.hosts;
  h1.ok('create', '-d', 'overlay', '--subnet', '10.230.0.0/16', 'bov');
  h1.ok('create', '--subnet', '10.231.0.0/16', 'bbr');
  // Endpoints on the other hosts, so the overlay connect programs peers as in a real cluster.
  for (const h of [h2, h3])
    for (let i = 0; i < 3; i++) {
      const s = h.name(`p${i}`);
      h.ok('sandbox', 'create', s, '--net', 'none');
      h.ok('connect', 'bov', s);
    }
  const ov = [];
  const br = [];
  for (let i = 0; i < R + 2; i++) {
    const a = h1.name(`o${i}`);
    const b = h1.name(`b${i}`);
    h1.ok('sandbox', 'create', a, '--net', 'none');
    h1.ok('sandbox', 'create', b, '--net', 'none');
    const to = timed(h1, 'connect', 'bov', a);
    const tb = timed(h1, 'connect', 'bbr', b);
    if (i >= 2) {
      ov.push(to);
      br.push(tb);
    } // the first two warm Node's compile cache (Node >= 22)
  }
  // One traced overlay connect: where its time goes (the marks of NETCTL_TRACE=1).
  const tr = h1.name('trace');
  h1.ok('sandbox', 'create', tr, '--net', 'none');
  const trace = h1
    .netctlEnv({ NETCTL_TRACE: '1' }, 'connect', 'bov', tr)
    .err.split('\n')
    .map((l) => /^trace: +([\d.]+) ms (.*)$/.exec(l))
    .filter(Boolean)
    .map((m) => [m[2], Number(m[1])]);
  // Agent: from the connect's return on host1 to the first ping from host2 that answers.
  const agents = c.hosts.map((h) => c.startAgent(h));
  await sleep(1500);
  const probe = h2.name('p0');
  const conv = [];
  for (let i = 0; i < R; i++) {
    const s = h1.name(`g${i}`);
    h1.ok('sandbox', 'create', s, '--net', 'none');
    h1.ok('connect', 'bov', s);
    const t0 = process.hrtime.bigint();
    const ip = (h1.addrs(s)['eth0']?.[0] ?? '').split('/')[0]; // read inside the sandbox: a few ms, counted
    let ms = NaN;
    while (Number(process.hrtime.bigint() - t0) / 1e6 < 5000) {
      if (pingOnce(probe, ip)) {
        ms = Number(process.hrtime.bigint() - t0) / 1e6;
        break;
      }
      await sleep(10);
    }
    conv.push(ms);
  }
  await Promise.all(agents.map((a) => a.kill()));
  const mo = median(ov);
  const mb = median(br);
  const f = (x) => x.toFixed(1);
  console.log('## Overlay (3 hosts, real etcd)\n');
  console.log(
    `Medians of ${R}, alternating on host1 (3 host namespaces and etcd on one underlay bridge; ` +
      `6 endpoints on the other hosts).\n`,
  );
  console.log('| measure | ms | goal |');
  console.log('|---|---:|---|');
  console.log(`| connect to an overlay network | ${f(mo)} | |`);
  console.log(`| connect to a bridge network, same run | ${f(mb)} | |`);
  console.log(`| overlay / bridge | ${(mo / mb).toFixed(2)}× | ≤ 1.5× ${mo / mb <= 1.5 ? 'met' : 'missed'} |`);
  console.log(
    `| agent: connect on host1 returned → ping from host2 answers (median / max) | ${f(median(conv))} / ` +
      `${f(Math.max(...conv))} | ≤ 2000 ${Math.max(...conv) <= 2000 ? 'met' : 'missed'} |`,
  );
  console.log(
    '\nOne overlay connect traced (`NETCTL_TRACE=1`; ms since node started). Between `store: read` and the ' +
      "first `ip` spawn: the probe of the endpoints and the reads of the cluster through etcd's JSON gateway " +
      '(no gRPC is loaded); the journal intents around the claim transaction; then the endpoint and, for a ' +
      'sandbox with no other way out, its gwbridge endpoint and the firewall sync that brings.\n',
  );
  console.log('| phase | at ms | ms to the next |');
  console.log('|---|---:|---:|');
  trace.forEach(([l, t], i) =>
    console.log(`| ${l} | ${t.toFixed(1)} | ${i + 1 < trace.length ? (trace[i + 1][1] - t).toFixed(1) : ''} |`),
  );
} finally {
  await c.removeAll().catch(() => []);
  await c.destroy();
}
