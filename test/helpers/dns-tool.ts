// A DNS server and a DNS client the tests drive, run inside test namespaces (through nsenter):
//   serve ADDR RECORDS_JSON   answers A records for the names in RECORDS_JSON ({"name": "ip"}),
//                             NXDOMAIN for any other name; prints "ready" once it listens, and
//                             one line per query it got ("q NAME TYPE") so a test sees what
//                             reached it.
//   burst SERVER NAME COUNT INTERVAL_MS
//                             sends COUNT queries for NAME (A), one every INTERVAL_MS, each
//                             waited for up to 5 s; prints {"sent","answered","lost","rcodes"}.
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
} else {
  process.stderr.write('usage: dns-tool serve ADDR RECORDS_JSON | burst SERVER NAME COUNT INTERVAL_MS\n');
  process.exit(2);
}
