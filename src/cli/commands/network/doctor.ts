// netctl doctor: every difference between the store and the kernel; changes nothing, exit 1 on drift.
import { requirePrivilege } from '../../../lib/privilege.js';
import { command } from '../../command.js';
import { makeController } from '../../wiring.js';

export default command<[], object>({
  define: (c) =>
    c.description('Report every difference between the store and the kernel (changes nothing; exit 1 on drift)'),
  async run(g, io) {
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
  },
});
