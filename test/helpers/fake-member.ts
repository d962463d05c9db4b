// A cluster-store member that misbehaves on purpose, for test/integration/etcd-client.test.ts.
// Run inside the test's namespace: `node fake-member.js ADDR PORT MODE`. It prints `listening`,
// then one JSON line per request ({"path": ...}). MODE: `hang` takes requests and never
// answers; `drop` sends the status line and part of a body, then closes the connection;
// `stale-token` issues tokens and refuses every other request as etcd does an expired token.
import { createServer } from 'node:http';

const [addr = '127.0.0.2', port = '2379', mode = 'hang'] = process.argv.slice(2);
const server = createServer((req, res) => {
  process.stdout.write(`${JSON.stringify({ path: req.url })}\n`);
  req.resume();
  req.on('end', () => {
    if (mode === 'drop') {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.write('{"header":');
      setTimeout(() => res.socket?.destroy(), 20);
    } else if (mode === 'stale-token') {
      if (req.url === '/v3/auth/authenticate') {
        res.end(JSON.stringify({ token: `t${Date.now()}` }));
        return;
      }
      const why = 'etcdserver: invalid auth token';
      res.writeHead(401, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ error: why, message: why, code: 16 }));
    }
  });
});
server.listen(Number(port), addr, () => process.stdout.write('listening\n'));
