// netctl connect [OPTIONS] NETWORK CONTAINER... (docs/reference.md §2): several containers at once, all or nothing.
import { requirePrivilege } from '../../../lib/privilege.js';
import { command } from '../../command.js';
import { makeController } from '../../wiring.js';
import { toEndpointSettings, type EndpointFlags } from '../../options.js';
import { dnsKeep, endpointOptions } from '../shared.js';
import { oneOf } from '../../complete.js';

export default command<[string, string[]], EndpointFlags & { dnsConfig?: string }>({
  define: (c) =>
    endpointOptions(
      c
        .description('Connect containers to a network (several at once: all or nothing)')
        .argument('<network>')
        .argument('<container...>')
        .option('--dns-config <mode>', "auto: point a runtime container's resolv.conf at netctl's resolver; keep"),
    ),
  values: { '--dns-config': oneOf('auto', 'keep') },
  args: ['networks', 'sandboxes'],
  async run(g, io, [network, containers], flags) {
    const settings = toEndpointSettings(flags);
    const dns = { dnsKeep: dnsKeep(flags.dnsConfig) };
    requirePrivilege('connect a container');
    await makeController(g, io).connect(network, containers, settings, dns);
    return 0;
  },
});
