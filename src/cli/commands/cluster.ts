// Cluster commands: `node ls`, `node rm`, `agent`. Parse -> controller -> print.
import { requirePrivilege } from '../../lib/privilege.js';
import { UsageError } from '../../lib/errors.js';
import { makeController, type Globals, type Io } from '../context.js';
import { reportError } from '../report.js';
import { tabwrite } from '../table.js';

/** "12s ago" from an ISO time ('' when never seen). */
function ago(iso: string, now = Date.now()): string {
  const t = Date.parse(iso);
  if (Number.isNaN(t)) return 'never';
  const s = Math.max(0, Math.round((now - t) / 1000));
  if (s < 60) return `${s}s ago`;
  if (s < 3600) return `${Math.floor(s / 60)}m ago`;
  return `${Math.floor(s / 3600)}h ago`;
}

export async function nodeLs(g: Globals, io: Io, flags: { quiet?: boolean; format?: string }): Promise<number> {
  if (flags.format && flags.format !== 'table' && flags.format !== 'json')
    throw new UsageError(`invalid --format ${flags.format}: table or json`);
  const rows = await makeController(g, io).listNodes();
  if (flags.quiet) io.out(rows.map((r) => `${r.name}\n`).join(''));
  else if (flags.format === 'json')
    io.out(
      rows
        .map(
          (r) =>
            `${JSON.stringify({ Name: r.name, Addr: r.addr, LastSeen: r.seen, Endpoints: r.endpoints, Self: r.self })}\n`,
        )
        .join(''),
    );
  else
    io.out(
      tabwrite([
        ['NAME', 'ADDRESS', 'LAST SEEN', 'ENDPOINTS'],
        ...rows.map((r) => [r.name, r.addr, ago(r.seen), String(r.endpoints)]),
      ]),
    );
  return 0;
}

export async function nodeRm(g: Globals, io: Io, hosts: string[]): Promise<number> {
  requirePrivilege('remove a node');
  const ctl = makeController(g, io);
  let rc = 0;
  for (const h of hosts) {
    try {
      const n = await ctl.removeNode(h);
      io.out(`${h}\n`);
      if (n) io.err(`removed ${n} endpoint(s) of ${h}\n`);
    } catch (e) {
      await reportError(io, e);
      rc = 1;
    }
  }
  return rc;
}

export async function agent(g: Globals, io: Io, flags: { heartbeat?: string }): Promise<number> {
  requirePrivilege('run the agent');
  const heartbeat = Number(flags.heartbeat ?? '10');
  if (!Number.isFinite(heartbeat) || heartbeat < 1 || heartbeat > 3600)
    throw new UsageError(`invalid --heartbeat ${flags.heartbeat}: seconds from 1 to 3600`);
  const stop = new Promise<void>((resolve) => {
    process.once('SIGTERM', () => resolve());
    process.once('SIGINT', () => resolve());
  });
  const log = (m: string) => io.err(`${new Date().toISOString()} ${m}\n`);
  await makeController(g, io).runAgent({ heartbeat, log, stop });
  return 0;
}
