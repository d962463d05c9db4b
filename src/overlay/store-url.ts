// The cluster store's address: `etcd://HOST:PORT[,HOST:PORT...]` (docs/reference.md §10).
import { InvalidArgumentError } from '../lib/errors.js';

const HOST = /^(?:[A-Za-z0-9](?:[A-Za-z0-9_-]*[A-Za-z0-9])?)(?:\.[A-Za-z0-9](?:[A-Za-z0-9_-]*[A-Za-z0-9])?)*$/;
const ENDPOINT = /^(?:\[([0-9A-Fa-f:.]+)\]|([^:[\]]+)):(\d{1,5})$/;

/**
 * Parses `etcd://HOST:PORT[,HOST:PORT...]` into `host:port` strings (IPv6 kept in brackets); an
 * endpoint may be written `https://HOST:PORT` (see usesTls).
 */
export function parseClusterUrl(url: string): string[] {
  const bad = (why: string) =>
    new InvalidArgumentError(`invalid cluster store "${url}": ${why} (expected etcd://HOST:PORT[,HOST:PORT...])`);
  if (!url.startsWith('etcd://')) throw bad('the scheme must be etcd://');
  const rest = url.slice('etcd://'.length);
  if (rest === '') throw bad('no endpoint');
  return rest.split(',').map((given) => {
    const ep = given.replace(/^https:\/\//, '');
    const m = ENDPOINT.exec(ep);
    if (!m) throw bad(ep === '' ? 'an empty endpoint' : `"${ep}" is not HOST:PORT`);
    const [, v6, host, port] = m;
    if (v6 !== undefined && (!v6.includes(':') || !/^[0-9A-Fa-f:]*(?:\d+\.\d+\.\d+\.\d+)?$/.test(v6)))
      throw bad(`"${v6}" is not an IPv6 address`);
    if (host !== undefined && !HOST.test(host)) throw bad(`"${host}" is not a host name or address`);
    const n = Number(port);
    if (n < 1 || n > 65535) throw bad(`port ${port} out of range`);
    return v6 !== undefined ? `[${v6}]:${n}` : `${host}:${n}`;
  });
}

/** Whether the URL names an endpoint `https://`: TLS even without a CA file (the system's CAs). */
export const usesTls = (url: string): boolean =>
  url
    .slice('etcd://'.length)
    .split(',')
    .some((e) => e.startsWith('https://'));
