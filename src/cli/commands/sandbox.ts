// Sandbox (container-side) commands.
import { findSandbox } from '../../core/lookup.js';
import { sandboxRow, sandboxView } from '../views.js';
import { execIn } from '../../kernel/exec.js';
import { NotFoundError, UsageError } from '../../lib/errors.js';
import { hasPrivilege, requirePrivilege } from '../../lib/privilege.js';
import { makeController, type Globals, type Io } from '../context.js';
import { toSandboxCreate, type SandboxFlags } from '../options.js';
import { reportError } from '../report.js';
import { naturalCompare } from '../table.js';
import { echoResults } from './network.js';
import { renderList, type LsFlags } from './network-show.js';

export async function create(g: Globals, io: Io, name: string, flags: SandboxFlags): Promise<number> {
  const req = toSandboxCreate(name, flags);
  requirePrivilege('create a sandbox');
  io.out(`${await makeController(g, io).createSandbox(req)}\n`);
  return 0;
}

export async function attach(
  g: Globals,
  io: Io,
  name: string,
  flags: { netns?: string; pid?: string },
): Promise<number> {
  if (flags.pid !== undefined && !/^\d+$/.test(flags.pid))
    throw new UsageError(`invalid argument "${flags.pid}" for "--pid" flag`);
  requirePrivilege('attach a sandbox');
  const src = {
    ...(flags.netns !== undefined ? { netns: flags.netns } : {}),
    ...(flags.pid !== undefined ? { pid: Number(flags.pid) } : {}),
  };
  io.out(`${await makeController(g, io).attachSandbox(name, src)}\n`);
  return 0;
}

export async function start(g: Globals, io: Io, names: string[]): Promise<number> {
  requirePrivilege('start a sandbox');
  return eachName(io, names, (n) => makeController(g, io).startSandbox(n));
}

export async function stop(g: Globals, io: Io, names: string[]): Promise<number> {
  requirePrivilege('stop a sandbox');
  return eachName(io, names, (n) => makeController(g, io).stopSandbox(n));
}

/** One transaction per name, so one failure does not undo the others; output as `rm`. */
async function eachName(io: Io, names: string[], fn: (n: string) => Promise<void>): Promise<number> {
  const results: Array<Error | null> = [];
  for (const n of names)
    results.push(
      await fn(n).then(
        () => null,
        (e: unknown) => (e instanceof Error ? e : new Error(String(e))),
      ),
    );
  return echoResults(io, names, results, []);
}

export async function rm(g: Globals, io: Io, names: string[], flags: { force?: boolean }): Promise<number> {
  requirePrivilege('remove a sandbox');
  const { results, errors } = await makeController(g, io).removeSandboxes(names, flags.force ?? false);
  return echoResults(io, names, results, errors);
}

const HEADERS: Record<string, string> = {
  ID: 'SANDBOX ID',
  Name: 'NAME',
  Mode: 'MODE',
  State: 'STATE',
  Networks: 'NETWORKS',
};

export async function ls(g: Globals, io: Io, flags: LsFlags): Promise<number> {
  const rows = await makeController(g, io).view(
    (tx) =>
      tx
        .list('sandboxes')
        .sort((a, b) => naturalCompare(a.name, b.name))
        .map((s) => sandboxRow(tx, s, flags.trunc !== false)),
    hasPrivilege(),
  );
  io.out(renderList(rows, flags, HEADERS, 'table {{.ID}}\t{{.Name}}\t{{.Mode}}\t{{.State}}\t{{.Networks}}'));
  return 0;
}

export async function inspect(g: Globals, io: Io, names: string[]): Promise<number> {
  const { found, errors } = await makeController(g, io).view((tx) => {
    const found: unknown[] = [];
    const errors: Error[] = [];
    for (const n of names) {
      const sb = findSandbox(tx, n);
      if (sb) found.push(sandboxView(tx, sb));
      else errors.push(new NotFoundError(`No such container: ${n}`));
    }
    return { found, errors };
  }, hasPrivilege());
  io.out(`${JSON.stringify(found, null, 4)}\n`);
  for (const e of errors) await reportError(io, e);
  return errors.length ? 1 : 0;
}

export async function exec(g: Globals, io: Io, name: string, argv: string[]): Promise<number> {
  const sb = await makeController(g, io).view((tx) => findSandbox(tx, name), false);
  if (!sb) throw new NotFoundError(`No such container: ${name}`);
  if (sb.state !== 'running')
    throw new NotFoundError(`container ${sb.name} is not running`, `start it: netctl sandbox start ${sb.name}`);
  return execIn(sb.netns, argv);
}
