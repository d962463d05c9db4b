// netctl sandbox ls: SANDBOX ID, NAME, MODE, STATE, NETWORKS (docs/reference.md §2).
import { hasPrivilege } from '../../../lib/privilege.js';
import { command } from '../../command.js';
import { makeController } from '../../wiring.js';
import { sortByName } from '../../table.js';
import { sandboxRow } from '../../views.js';
import { lsFormats, lsOptions } from '../list.js';
import { renderList, type LsFlags } from '../../table.js';

const HEADERS: Record<string, string> = {
  ID: 'SANDBOX ID',
  Name: 'NAME',
  Mode: 'MODE',
  State: 'STATE',
  Networks: 'NETWORKS',
};

export default command<[], LsFlags>({
  define: (c) => lsOptions(c.description('List sandboxes')),
  values: { '--format': lsFormats },
  async run(g, io, _args, flags) {
    const rows = await makeController(g, io).view(
      (tx) => sortByName(tx.list('sandboxes')).map((s) => sandboxRow(tx, s, flags.trunc !== false)),
      hasPrivilege(),
    );
    io.out(renderList(rows, flags, HEADERS, 'table {{.ID}}\t{{.Name}}\t{{.Mode}}\t{{.State}}\t{{.Networks}}'));
    return 0;
  },
});
