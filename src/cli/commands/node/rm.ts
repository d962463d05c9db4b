// netctl node rm HOST...: a dead host's endpoints and addresses removed cluster-wide.
import { requirePrivilege } from '../../../lib/privilege.js';
import { command } from '../../command.js';
import { makeController } from '../../wiring.js';
import { reportError } from '../../report.js';

export default command<[string[]], object>({
  define: (c) =>
    c
      .description("Remove a dead host's endpoints and addresses cluster-wide")
      .argument('<host...>', 'node name or advertise address'),
  async run(g, io, [hosts]) {
    requirePrivilege('remove a node');
    const ctl = makeController(g, io);
    const { removeNode } = await import('../../../overlay/nodes.js');
    let rc = 0;
    for (const h of hosts) {
      try {
        const n = (await removeNode(ctl.ctx, h)).length;
        io.out(`${h}\n`);
        if (n) io.err(`removed ${n} endpoint(s) of ${h}\n`);
      } catch (e) {
        await reportError(io, e);
        rc = 1;
      }
    }
    return rc;
  },
});
