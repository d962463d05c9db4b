// netctl restore (docs/reference.md §2): the kernel state again from the store; idempotent, run at boot.
import { requirePrivilege } from '../../../lib/privilege.js';
import { command } from '../../command.js';
import { makeController } from '../../wiring.js';

export default command<[], object>({
  define: (c) =>
    c.description(
      'Re-create bridges, sandboxes, endpoints and firewall rules from the store (idempotent; run at boot)',
    ),
  async run(g, io) {
    requirePrivilege('restore kernel state');
    for (const r of await makeController(g, io).restore()) io.out(`restored ${r}\n`);
    return 0;
  },
});
