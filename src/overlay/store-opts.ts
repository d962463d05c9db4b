// The cluster store's options (docs/reference.md §10), Docker's names: kv.cacertfile (TLS),
// kv.certfile and kv.keyfile (mutual TLS), kv.username and kv.password-file (etcd's own auth).
// Given as `--cluster-store-opt k=v` (repeatable), NETCTL_CLUSTER_STORE_OPTS (`k=v,k=v`) or
// config.json's "cluster-store-opts" object; the flag wins over the environment, which wins over
// the file, option by option. The files are read when the store is first used.
import { readFileSync, statSync } from 'node:fs';
import { InvalidArgumentError } from '../lib/errors.js';

export const STORE_OPTS = ['kv.cacertfile', 'kv.certfile', 'kv.keyfile', 'kv.username', 'kv.password-file'] as const;
export type StoreOpts = Partial<Record<(typeof STORE_OPTS)[number], string>>;

/** What the client needs: PEM bytes for TLS, and etcd's user and password. */
export interface StoreAccess {
  /** `ca` absent: the system's CAs (an `https://` endpoint without kv.cacertfile). */
  tls?: { ca?: Buffer; cert?: Buffer; key?: Buffer };
  auth?: { username: string; password: string };
}

/** `k=v` pairs from `where` (a flag, the environment, config.json), each key one of STORE_OPTS. */
export function parseStoreOpts(pairs: Iterable<[string, unknown]>, where: string): StoreOpts {
  const out: StoreOpts = {};
  for (const [k, v] of pairs) {
    if (!(STORE_OPTS as readonly string[]).includes(k)) {
      throw new InvalidArgumentError(
        `unknown cluster store option ${JSON.stringify(k)} in ${where}`,
        STORE_OPTS.join(', '),
      );
    }
    if (typeof v !== 'string' || v === '') {
      throw new InvalidArgumentError(`cluster store option ${k} in ${where} needs a value`);
    }
    out[k as keyof StoreOpts] = v;
  }
  return out;
}

/** `k=v` strings as pairs (a value may hold `=`). */
export const keyValues = (items: string[]): Array<[string, string]> =>
  items.filter(Boolean).map((s) => {
    const eq = s.indexOf('=');
    return eq < 0 ? [s, ''] : [s.slice(0, eq), s.slice(eq + 1)];
  });

/** Checks the options as a whole and reads their files; `tls`: an endpoint asks for TLS. */
export function loadStoreAccess(o: StoreOpts, tls = false): StoreAccess {
  const read = (opt: keyof StoreOpts, path: string): Buffer => {
    try {
      return readFileSync(path);
    } catch (e) {
      throw new InvalidArgumentError(`${opt} ${path}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
    }
  };
  const secret = (opt: keyof StoreOpts, path: string): Buffer => {
    const st = statSync(path, { throwIfNoEntry: false });
    if (st && (st.mode & 0o044) !== 0) {
      throw new InvalidArgumentError(`${opt} ${path} is readable by group or others`, `chmod 600 ${path}`);
    }
    return read(opt, path);
  };
  const access: StoreAccess = {};
  const { 'kv.cacertfile': ca, 'kv.certfile': cert, 'kv.keyfile': key } = o;
  if ((cert === undefined) !== (key === undefined)) {
    throw new InvalidArgumentError('kv.certfile and kv.keyfile go together (a client certificate and its key)');
  }
  if (cert !== undefined && ca === undefined) {
    throw new InvalidArgumentError('kv.certfile needs kv.cacertfile: the CA that signed the cluster store');
  }
  if (ca !== undefined || tls) {
    access.tls = {
      ...(ca !== undefined ? { ca: read('kv.cacertfile', ca) } : {}),
      ...(cert !== undefined && key !== undefined
        ? { cert: read('kv.certfile', cert), key: secret('kv.keyfile', key) }
        : {}),
    };
  }
  const { 'kv.username': username, 'kv.password-file': passwordFile } = o;
  if ((username === undefined) !== (passwordFile === undefined)) {
    throw new InvalidArgumentError('kv.username and kv.password-file go together');
  }
  if (username !== undefined && passwordFile !== undefined) {
    access.auth = { username, password: secret('kv.password-file', passwordFile).toString('utf8').trim() };
  }
  return access;
}
