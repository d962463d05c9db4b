// netctl sandbox rm [-f] NAME...: disconnected from all; the netns deleted if netctl made it.
import { requirePrivilege } from '../../../lib/privilege.js';
import { command } from '../../command.js';
import { makeController } from '../../wiring.js';
import { echoResults } from '../shared.js';

export default command<[string[]], { force?: boolean }>({
  define: (c) =>
    c
      .description('Remove sandboxes (disconnect all; delete the netns if netctl made it)')
      .argument('<name...>')
      .option('-f, --force', 'ignore sandboxes that do not exist'),
  args: ['sandboxes'],
  async run(g, io, [names], flags) {
    requirePrivilege('remove a sandbox');
    const { results, errors } = await makeController(g, io).removeSandboxes(names, flags.force ?? false);
    return echoResults(io, names, results, errors);
  },
});
