// netctl node ls: the hosts of the cluster store (name, advertise address, last seen, endpoints).
import { UsageError } from '../../../lib/errors.js';
import { command } from '../../command.js';
import { oneOf } from '../../complete.js';
import { makeController } from '../../wiring.js';
import { tabwrite } from '../../table.js';

/** "12s ago" from an ISO time ('' when never seen). */
function ago(iso: string, now = Date.now()): string {
  const t = Date.parse(iso);
  if (Number.isNaN(t)) return 'never';
  const s = Math.max(0, Math.round((now - t) / 1000));
  if (s < 60) return `${s}s ago`;
  if (s < 3600) return `${Math.floor(s / 60)}m ago`;
  return `${Math.floor(s / 3600)}h ago`;
}

export default command<[], { quiet?: boolean; format?: string }>({
  define: (c) =>
    c
      .description('List hosts: name, advertise address, last seen, endpoints')
      .option('-q, --quiet', 'only display names')
      .option('--format <format>', 'table or json'),
  values: { '--format': oneOf('table', 'json') },
  async run(g, io, _args, flags) {
    if (flags.format && flags.format !== 'table' && flags.format !== 'json')
      throw new UsageError(`invalid --format ${flags.format}: table or json`);
    const { listNodes } = await import('../../../overlay/nodes.js');
    const rows = await listNodes(makeController(g, io).ctx);
    if (flags.quiet) io.out(rows.map((r) => `${r.name}\n`).join(''));
    else if (flags.format === 'json') {
      const json = (r: (typeof rows)[number]) =>
        JSON.stringify({ Name: r.name, Addr: r.addr, LastSeen: r.seen, Endpoints: r.endpoints, Self: r.self });
      io.out(rows.map((r) => `${json(r)}\n`).join(''));
    } else {
      const table = rows.map((r) => [r.name, r.addr, ago(r.seen), String(r.endpoints)]);
      io.out(tabwrite([['NAME', 'ADDRESS', 'LAST SEEN', 'ENDPOINTS'], ...table]));
    }
    return 0;
  },
});
