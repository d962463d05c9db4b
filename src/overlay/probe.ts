// A TCP probe of the etcd endpoints before gRPC dials them. gRPC (grpc-js) has no connect
// timeout: its socket to a blackholed host stays open, and keeps the process alive, until the
// kernel gives up (~2 min), even after the client is closed. A command must not hang that long
// after it has failed, so endpoints that do not answer the probe are never given to gRPC.
import { connect } from 'node:net';

/** `host:port` or `[v6]:port` split for node:net. */
function hostPort(ep: string): { host: string; port: number } {
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
