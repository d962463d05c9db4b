// A TCP probe of the etcd endpoints before gRPC dials them. gRPC (grpc-js) has no connect
// timeout: its socket to a blackholed host stays open, and keeps the process alive, until the
// kernel gives up (~2 min), even after the client is closed. A command must not hang that long
// after it has failed, so endpoints that do not answer the probe are never given to gRPC.
import { connect, isIP } from 'node:net';

/** `host:port` or `[v6]:port` split for node:net. */
export function hostPort(ep: string): { host: string; port: number } {
  const i = ep.lastIndexOf(':');
  return { host: ep.slice(0, i).replace(/^\[(.*)\]$/, '$1'), port: Number(ep.slice(i + 1)) };
}

/**
 * The endpoints that accept a TCP connection: those that answered by graceMs after the first
 * one did (no waiting for the slowest), or none if none answered within timeoutMs.
 */
export function reachableEndpoints(endpoints: string[], timeoutMs: number, graceMs = 100): Promise<string[]> {
  return new Promise((resolve) => {
    const up: string[] = [];
    let pending = endpoints.length;
    let done = false;
    const sockets = endpoints.map((ep) => {
      const s = connect(hostPort(ep));
      const settle = (ok: boolean) => {
        s.destroy();
        if (done) return;
        if (ok) {
          if (up.length === 0) setTimeout(finish, graceMs).unref();
          up.push(ep);
        }
        if (--pending === 0) finish();
      };
      s.once('connect', () => settle(true));
      s.once('error', () => settle(false));
      return s;
    });
    const timer = setTimeout(finish, timeoutMs);
    function finish() {
      if (done) return;
      done = true;
      clearTimeout(timer);
      for (const s of sockets) s.destroy();
      // In the order given: the first endpoint is the one the operator named first.
      resolve(endpoints.filter((ep) => up.includes(ep)));
    }
  });
}

/**
 * The TLS handshake gRPC would make, and the HTTP/2 session over it, with the client's
 * certificate: null when the endpoint takes them, else why not (a wrong CA, a name the
 * certificate does not hold, a client certificate missing or refused). gRPC reports all of
 * these as "unavailable"; this says which.
 */
export async function tlsRefusal(
  ep: string,
  tls: { ca?: Buffer; cert?: Buffer; key?: Buffer },
  timeoutMs: number,
): Promise<string | null> {
  const { connect: h2 } = await import('node:http2');
  const { host, port } = hostPort(ep);
  return new Promise((resolve) => {
    const session = h2(`https://${host.includes(':') ? `[${host}]` : host}:${port}`, {
      // No SNI for an address (RFC 6066); the certificate is still checked against it.
      servername: isIP(host) ? '' : host,
      ...(tls.ca ? { ca: tls.ca } : {}),
      ...(tls.cert && tls.key ? { cert: tls.cert, key: tls.key } : {}),
    });
    const done = (why: string | null) => {
      clearTimeout(timer);
      session.removeAllListeners('connect');
      session.on('error', () => undefined);
      session.destroy();
      resolve(why);
    };
    const timer = setTimeout(
      () => done(`no answer from ${ep} after the TLS handshake within ${timeoutMs} ms (a client certificate refused?)`),
      timeoutMs,
    );
    session.once('close', () => done(`${ep} closed the connection in the TLS handshake`));
    // The server's SETTINGS: the handshake and the client's certificate were accepted (TLS 1.3
    // refuses a missing or unknown one only after the client's side of the handshake is done).
    session.once('remoteSettings', () => done(null));
    session.once('error', (e: Error) => done(reason(e)));
    session.socket?.once('error', (e: Error) => done(reason(e)));
  });
}

/** OpenSSL's alert in words (`sslv3 alert bad certificate` at its file and line: the peer refused our certificate). */
function reason(e: Error): string {
  const alert = /alert ([a-z ]+?)(?::|$)/m.exec(e.message)?.[1];
  return alert ? `the cluster store refused the client certificate (TLS alert: ${alert})` : e.message;
}

/** Whether `ep` answers a TLS handshake (whatever its certificate): a store that wants TLS given none. */
export async function speaksTls(ep: string, timeoutMs: number): Promise<boolean> {
  const { connect: tlsConnect } = await import('node:tls');
  const { host, port } = hostPort(ep);
  return new Promise((resolve) => {
    const s = tlsConnect({ host, port, rejectUnauthorized: false });
    const done = (yes: boolean) => {
      clearTimeout(timer);
      s.on('error', () => undefined);
      s.destroy();
      resolve(yes);
    };
    const timer = setTimeout(() => done(false), timeoutMs);
    s.once('secureConnect', () => done(true));
    s.once('error', () => done(false));
  });
}
