// netctl rm [-f] NETWORK... (docs/reference.md §2): echoes each removed argument as typed.
import { requirePrivilege } from '../../../lib/privilege.js';
import { command } from '../../command.js';
import { makeController } from '../../wiring.js';
import { echoResults } from '../shared.js';

export default command<[string[]], { force?: boolean }>({
  define: (c) =>
    c
      .description('Remove one or more networks')
      .argument('<network...>')
      .option('-f, --force', 'do not error if the network does not exist'),
  args: ['networks'],
  async run(g, io, [refs], flags) {
    requirePrivilege('remove a network');
    const { results, errors } = await makeController(g, io).removeNetworks(refs, flags.force ?? false);
    return echoResults(io, refs, results, errors);
  },
});
