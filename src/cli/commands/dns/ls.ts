// netctl dns ls (docs/reference.md §14): this host's resolver per network it serves (address,
// pid, names, queries); a network with a resolver and no endpoint here has none running.
import { UsageError } from '../../../lib/errors.js';
import { command } from '../../command.js';
import { oneOf } from '../../complete.js';
import { makeController } from '../../wiring.js';
import { tabwrite } from '../../table.js';

export default command<[], { format?: string }>({
  define: (c) =>
    c
      .description("List this host's resolvers: network, address, pid, records, queries")
      .option('--format <format>', 'table or json'),
  values: { '--format': oneOf('table', 'json') },
  async run(g, io, _args, flags) {
    if (flags.format && flags.format !== 'table' && flags.format !== 'json')
      throw new UsageError(`invalid --format ${flags.format}: table or json`);
    const st = await makeController(g, io).ctx.resolver?.status();
    const rows = (st?.networks ?? []).map((n) => ({ ...n, pid: st?.pid ?? 0 }));
    if (flags.format === 'json') {
      const json = (r: (typeof rows)[number]) =>
        JSON.stringify({
          Network: r.name,
          ID: r.id,
          Address: r.address,
          Pid: r.pid,
          Records: r.records,
          Queries: r.queries,
          ...(r.error ? { Error: r.error } : {}),
        });
      io.out(rows.map((r) => `${json(r)}\n`).join(''));
    } else {
      const table = rows.map((r) => [r.name, r.address, String(r.pid), String(r.records), String(r.queries)]);
      io.out(tabwrite([['NETWORK', 'ADDRESS', 'PID', 'RECORDS', 'QUERIES'], ...table]));
    }
    return 0;
  },
});
