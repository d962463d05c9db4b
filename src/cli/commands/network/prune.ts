// netctl prune [-f] [--filter label=…|label!=…|until=…] (docs/reference.md §2).
import { UsageError } from '../../../lib/errors.js';
import { requirePrivilege } from '../../../lib/privilege.js';
import { collect, command, Directive } from '../../command.js';
import { makeController } from '../../wiring.js';
import { parseFilters } from '../../reads.js';
import { reportError } from '../../report.js';

export default command<[], { force?: boolean; filter?: string[] }>({
  define: (c) =>
    c
      .description('Remove all networks without endpoints')
      .option('-f, --force', 'do not prompt for confirmation')
      .option('--filter <k=v>', 'label=<k[=v]>, label!=<k[=v]>, until=<time>', collect),
  values: {
    '--filter': () => ({ items: ['label=', 'label!=', 'until='], directive: Directive.NoFileComp | Directive.NoSpace }),
  },
  async run(g, io, _args, flags) {
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
  },
});

/** Docker's `until`: a Unix timestamp, an RFC 3339 date, or a Go duration before now (10m, 24h). */
function parseUntil(v: string): Date {
  if (/^\d+(\.\d+)?$/.test(v)) return new Date(Number(v) * 1000);
  const d = /^(\d+)(s|m|h)$/.exec(v);
  if (d) return new Date(Date.now() - Number(d[1]) * { s: 1e3, m: 6e4, h: 3.6e6 }[d[2] as 's' | 'm' | 'h']);
  const t = Date.parse(v);
  if (Number.isNaN(t)) throw new UsageError(`invalid filter value for until: ${v}`);
  return new Date(t);
}
