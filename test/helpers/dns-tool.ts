// A DNS server and a DNS client the tests drive, run inside test namespaces (through nsenter):
//   serve ADDR RECORDS_JSON   answers A records for the names in RECORDS_JSON ({"name": "ip"}),
//                             NXDOMAIN for any other name; prints "ready" once it listens, and
//                             one line per query it got ("q NAME TYPE") so a test sees what
//                             reached it.
//   burst SERVER NAME COUNT INTERVAL_MS
//                             sends COUNT queries for NAME (A), one every INTERVAL_MS, each
//                             waited for up to 5 s; prints {"sent","answered","lost","rcodes"}.
//   load SERVER NAME QPS SECONDS
//                             the same at QPS queries a second (a batch per millisecond tick);
//                             prints also "late" (answered after 1 s) and latency p50/p99 in ms.
//   latency SERVER NAME COUNT one query at a time; prints {"p50","p99","lost"} in ms.
//   until SERVER NAME         queries every 2 ms until an answer holds a record; prints the
//                             wall clock (ms since the epoch) of that answer.
// (The bench, bench/dns.mjs, uses the last three.)
import { createSocket } from 'node:dgram';
import * as packet from 'dns-packet';

const [mode, a1 = '', a2 = '', a3 = '', a4 = ''] = process.argv.slice(2);

if (mode === 'serve') {
  const records = JSON.parse(a2) as Record<string, string>;
  const sock = createSocket(a1.includes(':') ? 'udp6' : 'udp4');
  sock.on('message', (msg, rinfo) => {
    const q = packet.decode(msg);
    const question = q.questions?.[0];
    if (!question) return;
    process.stdout.write(`q ${question.name} ${question.type}\n`);
    const ip = records[question.name.toLowerCase()];
    const answers = ip && question.type === 'A' ? [{ type: 'A' as const, name: question.name, ttl: 30, data: ip }] : [];
    const res = packet.encode({
      type: 'response',
      id: q.id ?? 0,
      flags: packet.RECURSION_DESIRED | packet.RECURSION_AVAILABLE | (ip ? 0 : 3),
      questions: q.questions ?? [],
      answers,
    });
    sock.send(res, rinfo.port, rinfo.address);
  });
  sock.bind(53, a1, () => process.stdout.write('ready\n'));
} else if (mode === 'burst') {
  const [server, name, count, every] = [a1, a2, Number(a3), Number(a4)];
  const sock = createSocket(server.includes(':') ? 'udp6' : 'udp4');
  const waiting = new Map<number, NodeJS.Timeout>();
  const rcodes: Record<string, number> = {};
  let sent = 0;
  let answered = 0;
  let lost = 0;
  const finish = () => {
    if (sent < count || waiting.size) return;
    process.stdout.write(JSON.stringify({ sent, answered, lost, rcodes }) + '\n');
    sock.close();
  };
  sock.on('message', (msg) => {
    const r = packet.decode(msg);
    const t = waiting.get(r.id ?? -1);
    if (!t) return;
    clearTimeout(t);
    waiting.delete(r.id ?? -1);
    answered++;
    const key = `${(r as { rcode?: string }).rcode ?? '?'}:${(r.answers ?? []).length}`;
    rcodes[key] = (rcodes[key] ?? 0) + 1;
    finish();
  });
  const one = () => {
    const id = sent++ & 0xffff;
    sock.send(
      packet.encode({ type: 'query', id, flags: packet.RECURSION_DESIRED, questions: [{ type: 'A', name }] }),
      53,
      server,
    );
    waiting.set(
      id,
      setTimeout(() => {
        waiting.delete(id);
        lost++;
        finish();
      }, 5000),
    );
    if (sent < count) setTimeout(one, every);
  };
  sock.bind(0, () => one());
} else if (mode === 'load' || mode === 'latency' || mode === 'until') {
  const [server, name] = [a1, a2];
  const sock = createSocket(server.includes(':') ? 'udp6' : 'udp4');
  const sentAt = new Map<number, bigint>();
  const took: number[] = [];
  let next = 0;
  let sent = 0;
  let lost = 0;
  let late = 0;
  const ask = () => {
    let id = next++ & 0xffff;
    while (sentAt.has(id)) id = next++ & 0xffff;
    sentAt.set(id, process.hrtime.bigint());
    sent++;
    const q = {
      type: 'query' as const,
      id,
      flags: packet.RECURSION_DESIRED,
      questions: [{ type: 'A' as const, name }],
    };
    sock.send(packet.encode(q), 53, server);
    setTimeout(() => {
      if (!sentAt.delete(id)) return;
      lost++;
      if (mode === 'until') ask();
      else if (mode === 'latency') void (sent < Number(a3) ? ask() : report());
    }, 5000).unref();
  };
  const pct = (p: number) => {
    const v = [...took].sort((x, y) => x - y);
    return Number((v[Math.min(v.length - 1, Math.floor((p / 100) * v.length))] ?? NaN).toFixed(2));
  };
  const report = (extra: Record<string, unknown> = {}) => {
    process.stdout.write(
      JSON.stringify({ sent, answered: took.length, lost, late, p50: pct(50), p99: pct(99), ...extra }) + '\n',
    );
    sock.close();
  };
  sock.on('message', (msg) => {
    const r = packet.decode(msg);
    const t0 = sentAt.get(r.id ?? -1);
    if (t0 === undefined) return;
    sentAt.delete(r.id ?? -1);
    const ms = Number(process.hrtime.bigint() - t0) / 1e6;
    took.push(ms);
    if (ms > 1000) late++;
    if (mode === 'until') {
      if ((r.answers ?? []).length) return report({ at: Date.now() });
      setTimeout(ask, 2);
    } else if (mode === 'latency') {
      if (sent < Number(a3)) ask();
      else report();
    }
  });
  sock.bind(0, () => {
    if (mode !== 'load') return ask();
    const [qps, seconds] = [Number(a3), Number(a4)];
    const start = Date.now();
    const tick = setInterval(() => {
      const due = Math.min(qps * seconds, Math.floor(((Date.now() - start) / 1000) * qps));
      while (sent < due) ask();
      if (sent >= qps * seconds) {
        clearInterval(tick);
        const wait = setInterval(() => {
          if (sentAt.size === 0) {
            clearInterval(wait);
            report();
          }
        }, 50);
      }
    }, 1);
  });
} else {
  process.stderr.write('usage: dns-tool serve ADDR RECORDS | burst|load|latency|until SERVER NAME ...\n');
  process.exit(2);
}
