// node bench/cni.mjs (root): a CNI ADD through bin/netctl-cni against `netctl connect` of an
// adopted netns, the same work (one sandbox adopted, one veth, one address), interleaved so
// both see the same machine. Runs inside a throw-away host netns; prints medians and the ratio.
// Knob: REPS (default 40).
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const REPS = Number(process.env.REPS ?? 40);
const tag = `ncc${process.pid}`;
const host = `${tag}h`;
const root = mkdtempSync(join(tmpdir(), 'netctl-cni-bench-'));
const bin = new URL('../bin/', import.meta.url).pathname;
const sh = (file, args, opts = {}) => {
  const r = spawnSync(file, args, { encoding: 'utf8', ...opts });
  if (r.status !== 0) throw new Error(`${file} ${args.join(' ')}: ${r.stdout}${r.stderr}`);
  return r;
};
const inHost = (args, opts) => sh('nsenter', [`--net=/var/run/netns/${host}`, ...args], opts);
const timed = (fn) => {
  const t = process.hrtime.bigint();
  fn();
  return Number(process.hrtime.bigint() - t) / 1e6;
};
const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)];
};

const made = [];
try {
  sh('ip', ['netns', 'add', host]);
  inHost([`${bin}netctl`, '--root', root, 'create', '--subnet', '10.99.0.0/16', 'web']);
  const conf = JSON.stringify({ cniVersion: '1.1.0', name: 'web', type: 'netctl-cni', root });
  const connect = [];
  const add = [];
  for (let i = -2; i < REPS; i++) {
    // two warm-up rounds fill Node's compile cache (Node >= 22)
    const a = `${tag}-a${i + 2}`;
    const b = `${tag}-b${i + 2}`;
    for (const n of [a, b]) {
      sh('ip', ['netns', 'add', n]);
      made.push(n);
    }
    const env = {
      ...process.env,
      CNI_COMMAND: 'ADD',
      CNI_CONTAINERID: b,
      CNI_NETNS: `/var/run/netns/${b}`,
      CNI_IFNAME: 'eth0',
    };
    const runConnect = () => timed(() => inHost([`${bin}netctl`, '--root', root, 'connect', 'web', a]));
    const runAdd = () => timed(() => inHost([`${bin}netctl-cni`], { input: conf, env }));
    // Alternate which goes first, so neither always follows the other's kernel work.
    let tc, ta;
    if (i % 2) {
      ta = runAdd();
      tc = runConnect();
    } else {
      tc = runConnect();
      ta = runAdd();
    }
    if (i >= 0) {
      connect.push(tc);
      add.push(ta);
    }
  }
  const mc = median(connect);
  const ma = median(add);
  console.log(`netctl connect   median ${mc.toFixed(1)} ms  (${REPS} runs)`);
  console.log(`netctl-cni ADD   median ${ma.toFixed(1)} ms  (${REPS} runs)`);
  console.log(`ADD / connect    ${(ma / mc).toFixed(2)}x (the issue's bound: 1.2x)`);
} finally {
  for (const n of made) spawnSync('ip', ['netns', 'del', n]);
  spawnSync('ip', ['netns', 'del', host]);
  rmSync(root, { recursive: true, force: true });
}
