// How the cluster store fails, as the commands and the engine tell the cases apart: not
// reached (tried again later), refused (TLS or credentials: also tried again later, once the
// operator fixed them), or an error etcd answered.
import { SystemError, UnreachableError } from '../lib/errors.js';

/** Thrown for any failure to reach etcd; `cause` keeps the gRPC error for --debug. */
export class ClusterUnreachable extends UnreachableError {
  constructor(
    readonly url: string,
    override readonly cause?: unknown,
  ) {
    super(`cluster store ${url}: unreachable`);
  }
}

/**
 * The cluster store refused this client: its TLS handshake (a certificate, a CA) or its
 * credentials. A journaled call it refused is tried again later, when the operator fixed them.
 */
export class ClusterRefused extends UnreachableError {
  constructor(
    readonly url: string,
    detail: string,
  ) {
    super(`cluster store ${url}: ${detail}`);
  }
}

/** etcd answered, but with an error (a canceled watch, a refused request). */
export class ClusterError extends SystemError {
  constructor(
    readonly url: string,
    detail: string,
  ) {
    super(`cluster store ${url}: ${detail}`);
  }
}
