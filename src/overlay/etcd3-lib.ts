// The only module that loads etcd3 (and cockatiel, whose policies etcd3 takes for its fault
// handling). etcd.ts imports it lazily, so only a command that talks to the cluster store pays
// for gRPC and the protobuf definitions (~100 ms unbundled). scripts/build.mjs bundles it apart
// as dist/src/bundle/etcd3.cjs.
export {
  Etcd3,
  EtcdAuthenticationFailedError,
  EtcdInvalidAuthTokenError,
  EtcdPermissionDeniedError,
  GRPCCancelledError,
  GRPCDeadlineExceededError,
  GRPCUnavailableError,
} from 'etcd3';
export { circuitBreaker, ConsecutiveBreaker, handleWhen, isBrokenCircuitError, noop, retry } from 'cockatiel';
