// netctl sandbox prune [-f] (docs/reference.md §15): removes the sandboxes of runtime containers
// that exited, printing their names, and releases the addresses they kept.
import { requirePrivilege } from '../../../lib/privilege.js';
import { command } from '../../command.js';
import { makeController } from '../../wiring.js';

export default command<[], { force?: boolean }>({
  define: (c) =>
    c
      .description('Remove every sandbox whose runtime container exited')
      .option('-f, --force', 'do not prompt for confirmation'),
  async run(g, io) {
    requirePrivilege('prune sandboxes');
    const removed = await makeController(g, io).pruneExited();
    io.out(removed.map((n) => `${n}\n`).join(''));
    return 0;
  },
});
