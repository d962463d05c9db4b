// Tiny TCP peers for end-to-end traffic tests, run inside test namespaces with the same node:
//   node tcp.js serve PORT        answers every connection with "<remote address>\n"
//   node tcp.js ask HOST PORT     prints the answer; exit 1 if nothing came within 2 s
import { createConnection, createServer } from 'node:net';

const [mode, a, b] = process.argv.slice(2);
if (mode === 'serve') {
  const srv = createServer((s) => s.end(`${s.remoteAddress?.replace(/^::ffff:/, '')}\n`));
  // '::' takes IPv4 too (as ::ffff:a.b.c.d): one server for both families.
  srv.listen(Number(a), '::', () => process.stdout.write('ready\n'));
  // Bounded life: a forgotten server ends by itself.
  setTimeout(() => process.exit(0), 120_000).unref();
} else if (mode === 'ask') {
  const c = createConnection({ host: a ?? '', port: Number(b) });
  let got = '';
  c.setTimeout(2000, () => process.exit(1));
  c.on('data', (d) => (got += d));
  c.on('end', () => {
    process.stdout.write(got);
    process.exit(got ? 0 : 1);
  });
  c.on('error', () => process.exit(1));
} else {
  process.exit(2);
}
