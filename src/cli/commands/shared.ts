// What several command modules share: the endpoint options of connect and sandbox create, and
// Docker's way of answering for many arguments.
import type { Command } from 'commander';
import { collect } from '../command.js';
import type { Io } from '../wiring.js';
import { reportError } from '../report.js';
import { UsageError } from '../../lib/errors.js';

/** `--dns-config auto|keep` (§15): whether a runtime container's resolv.conf is left alone. */
export function dnsKeep(mode: string | undefined): boolean {
  if (mode === undefined || mode === 'auto') return false;
  if (mode === 'keep') return true;
  throw new UsageError(`invalid argument "${mode}" for "--dns-config" flag: auto or keep`);
}

/** connect's and sandbox create's EndpointSettings flags. */
export const endpointOptions = (c: Command): Command =>
  c
    .option('--ip <ipv4>', 'IPv4 address')
    .option('--ip6 <ipv6>', 'IPv6 address')
    .option('--alias <name>', 'network-scoped alias (repeatable)', collect)
    .option('--mac-address <mac>', 'MAC address of the interface')
    .option('--link-local-ip <ip>', 'link-local address (repeatable)', collect)
    .option('--driver-opt <k=v>', 'driver option for the endpoint (repeatable)', collect)
    .option('--gw-priority <n>', 'the highest priority endpoint carries the default route');

/** Docker's habit for many arguments: echo each that worked, report each that did not. */
export async function echoResults(
  io: Io,
  args: string[],
  results: Array<Error | null>,
  errors: string[],
): Promise<number> {
  let rc = errors.length ? 1 : 0;
  for (const [i, e] of results.entries()) {
    if (e) {
      await reportError(io, e);
      rc = 1;
    } else io.out(`${args[i]}\n`);
  }
  if (errors.length) await reportError(io, new Error(`teardown: ${errors.join('; ')}`));
  return rc;
}

/** One transaction per name, so one failure does not undo the others; output as `rm`. */
export async function eachName(io: Io, names: string[], fn: (n: string) => Promise<void>): Promise<number> {
  const results: Array<Error | null> = [];
  for (const n of names) {
    results.push(
      await fn(n).then(
        () => null,
        (e: unknown) => (e instanceof Error ? e : new Error(String(e))),
      ),
    );
  }
  return echoResults(io, names, results, []);
}
