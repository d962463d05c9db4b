'use strict';
// The floor of a connect for any Node CLI that drives iproute2: node starts, two `ip -batch`
// processes start at once (the host's, and the sandbox's through nsenter), one durable write
// comes before either acts, the host's makes and enslaves the veth pair, then the sandbox's
// configures its end, and one durable write closes. No parsing, no store, no checks: what is
// left when everything netctl does of its own is taken away (bench/run.sh, side by side).
// Spawns through node:child_process, as netctl does.
// argv: BRIDGE NETNS ADDRESS/PREFIX GATEWAY DIR (where the journal file goes)
const fs = require('node:fs');
const { spawn } = require('node:child_process');
const [bridge, netns, cidr, gateway, dir] = process.argv.slice(2);

/** Starts file waiting on stdin; `send` gives it its lines and end-of-file. */
function start(file, args) {
  const child = spawn(file, args, { env: { PATH: process.env.PATH }, stdio: ['pipe', 'ignore', 'inherit'] });
  const exited = new Promise((resolve, reject) => {
    child.once('error', reject);
    child.once('close', (code) => resolve(code ?? 1));
  });
  return { exited, send: (text) => child.stdin.end(text) };
}

const veth = `vethf${process.pid.toString(16).slice(-6)}`;
const host = start('ip', ['-batch', '-']);
const inside = start('nsenter', [`--net=/var/run/netns/${netns}`, '--', 'ip', '-batch', '-']);
const fd = fs.openSync(`${dir}/floor-journal`, 'w');
fs.writeSync(fd, JSON.stringify({ undo: [['link', 'del', veth]] }));
fs.fdatasyncSync(fd);
host.send(
  `link add ${veth} type veth peer name eth0 netns ${netns}\nlink set ${veth} addrgenmode none\n` +
    `link set ${veth} master ${bridge} up\n`,
);
host.exited
  .then((status) => {
    if (status !== 0) process.exit(1);
    inside.send(
      `link set eth0 addrgenmode none\naddr add ${cidr} dev eth0\nlink set eth0 up\n` +
        `route replace default via ${gateway} dev eth0\n`,
    );
    return inside.exited;
  })
  .then((status) => {
    fs.writeSync(fd, JSON.stringify({ done: true }), 0);
    fs.fdatasyncSync(fd);
    process.exit(status);
  });
