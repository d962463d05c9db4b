// netctl connect [OPTIONS] NETWORK CONTAINER... (docs/reference.md §2): several containers at once, all or nothing.
import { requirePrivilege } from '../../../lib/privilege.js';
import { command } from '../../command.js';
import { makeController } from '../../wiring.js';
import { toEndpointSettings, type EndpointFlags } from '../../options.js';
import { endpointOptions } from '../shared.js';

export default command<[string, string[]], EndpointFlags>({
  define: (c) =>
    endpointOptions(
      c
        .description('Connect containers to a network (several at once: all or nothing)')
        .argument('<network>')
        .argument('<container...>'),
    ),
  args: ['networks', 'sandboxes'],
  async run(g, io, [network, containers], flags) {
    const settings = toEndpointSettings(flags);
    requirePrivilege('connect a container');
    await makeController(g, io).connect(network, containers, settings);
    return 0;
  },
});
