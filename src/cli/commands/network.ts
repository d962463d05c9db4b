// Network commands that change things: parse -> convert -> controller -> print. No policy lives
// here. ls and inspect are in network-show.ts: the templates and views they load cost a connect ~1 ms.
import { UsageError } from '../../lib/errors.js';
import { requirePrivilege } from '../../lib/privilege.js';
import { makeController, type Globals, type Io } from '../context.js';
import { parseFilters, toEndpointSettings, toNetworkCreate, type CreateFlags, type EndpointFlags } from '../options.js';
import { reportError } from '../report.js';

export async function create(g: Globals, io: Io, name: string, flags: CreateFlags): Promise<number> {
  const req = toNetworkCreate(name, flags);
  requirePrivilege('create a network');
  const id = await makeController(g, io).createNetwork(req);
  io.out(`${id}\n`);
  return 0;
}

export async function connect(
  g: Globals,
  io: Io,
  network: string,
  containers: string[],
  flags: EndpointFlags,
): Promise<number> {
  const settings = toEndpointSettings(flags);
  requirePrivilege('connect a container');
  await makeController(g, io).connect(network, containers, settings);
  return 0;
}

export async function disconnect(
  g: Globals,
  io: Io,
  network: string,
  container: string,
  flags: { force?: boolean },
): Promise<number> {
  requirePrivilege('disconnect a container');
  await makeController(g, io).disconnect(network, container, flags.force ?? false);
  return 0;
}

export async function rm(g: Globals, io: Io, refs: string[], flags: { force?: boolean }): Promise<number> {
  requirePrivilege('remove a network');
  const { results, errors } = await makeController(g, io).removeNetworks(refs, flags.force ?? false);
  return echoResults(io, refs, results, errors);
}

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

export async function prune(g: Globals, io: Io, flags: { force?: boolean; filter?: string[] }): Promise<number> {
  requirePrivilege('prune networks');
  const filters = parseFilters(flags.filter ?? [], ['label', 'label!', 'until']);
  let until: Date | undefined;
  const labels = [];
  for (const f of filters) {
    if (f.key === 'until') until = parseUntil(f.value);
    else {
      const [key = '', value] = f.value.split('=', 2);
      labels.push({ key, ...(value !== undefined ? { value } : {}), negate: f.key === 'label!' });
    }
  }
  const { removed, errors } = await makeController(g, io).prune(labels, until);
  if (removed.length) io.out(`Deleted Networks:\n${removed.map((n) => `${n}\n`).join('')}`);
  if (errors.length) await reportError(io, new Error(`teardown: ${errors.join('; ')}`));
  return errors.length ? 1 : 0;
}

/** Docker's `until`: a Unix timestamp, an RFC 3339 date, or a Go duration before now (10m, 24h). */
function parseUntil(v: string): Date {
  if (/^\d+(\.\d+)?$/.test(v)) return new Date(Number(v) * 1000);
  const d = /^(\d+)(s|m|h)$/.exec(v);
  if (d) return new Date(Date.now() - Number(d[1]) * { s: 1e3, m: 6e4, h: 3.6e6 }[d[2] as 's' | 'm' | 'h']);
  const t = Date.parse(v);
  if (Number.isNaN(t)) throw new UsageError(`invalid filter value for until: ${v}`);
  return new Date(t);
}

export async function restore(g: Globals, io: Io): Promise<number> {
  requirePrivilege('restore kernel state');
  const repaired = await makeController(g, io).restore();
  for (const r of repaired) io.out(`restored ${r}\n`);
  return 0;
}

export async function doctor(g: Globals, io: Io): Promise<number> {
  requirePrivilege('inspect kernel state');
  const ctl = makeController(g, io);
  const drift = await ctl.doctor();
  if (ctl.firewallName) io.out(`firewall backend: ${ctl.firewallName}\n`);
  if (drift.length === 0) {
    io.out('no drift: the kernel matches the store\n');
    return 0;
  }
  for (const d of drift) io.out(`drift: ${d}\n`);
  io.err(
    `Error: ${drift.length} difference(s) between the store and the kernel\n  hint: netctl restore repairs them\n`,
  );
  return 1;
}
