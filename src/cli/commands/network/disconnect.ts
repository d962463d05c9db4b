// netctl disconnect [-f] NETWORK CONTAINER (docs/reference.md §2).
import { requirePrivilege } from '../../../lib/privilege.js';
import { command } from '../../command.js';
import { makeController } from '../../wiring.js';

export default command<[string, string], { force?: boolean }>({
  define: (c) =>
    c
      .description('Disconnect a container from a network')
      .argument('<network>')
      .argument('<container>')
      .option('-f, --force', 'also clear stale endpoints; never fail on "already gone"'),
  args: ['networks', 'sandboxes'],
  async run(g, io, [network, container], flags) {
    requirePrivilege('disconnect a container');
    await makeController(g, io).disconnect(network, container, flags.force ?? false);
    return 0;
  },
});
