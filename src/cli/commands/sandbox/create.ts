// netctl sandbox create NAME [--net MODE] [endpoint and DNS flags] [-p …] (docs/reference.md §2): prints its ID.
import { requirePrivilege } from '../../../lib/privilege.js';
import { collect, command } from '../../command.js';
import { netModes, oneOf } from '../../complete.js';
import { makeController } from '../../wiring.js';
import { toSandboxCreate, type SandboxFlags } from '../../options.js';
import { endpointOptions } from '../shared.js';

export default command<[string], SandboxFlags>({
  define: (c) =>
    endpointOptions(
      c
        .description('Create a running sandbox')
        .argument('<name>')
        .option('--net <mode>', 'bridge (default), none, host, container:NAME, or a network name', 'bridge')
        .option('-p, --publish <[ip:]hport:cport[/proto]>', 'publish a port on the host (repeatable)', collect)
        .option('--hostname <name>', 'host name of the sandbox')
        .option('--dns <ip>', 'nameserver for its resolv.conf (repeatable)', collect)
        .option('--dns-search <domain>', 'search domain for its resolv.conf (repeatable)', collect)
        .option('--dns-option <opt>', 'resolver option for its resolv.conf (repeatable)', collect)
        .option('--add-host <name:ip>', 'extra line for its hosts file (repeatable)', collect)
        .option('--egress-default <verdict>', 'egress policy: allow or deny what no rule names')
        .option('--egress-allow <dest>', 'egress policy: a DEST it may reach (repeatable)', collect)
        .option('--egress-deny <dest>', 'egress policy: a DEST it may not reach (repeatable)', collect),
    ),
  values: { '--net': netModes, '--egress-default': oneOf('allow', 'deny') },
  async run(g, io, [name], flags) {
    const req = toSandboxCreate(name, flags);
    requirePrivilege('create a sandbox');
    io.out(`${await makeController(g, io).createSandbox(req)}\n`);
    return 0;
  },
});
