// netctl create [OPTIONS] NETWORK (docs/reference.md §2): prints the new network's ID.
import { Option } from 'commander';
import { requirePrivilege } from '../../../lib/privilege.js';
import { collect, command } from '../../command.js';
import { bridgeOptions, drivers, ipamDrivers } from '../../complete.js';
import { makeController } from '../../wiring.js';
import { toNetworkCreate, type CreateFlags } from '../../options.js';

export default command<[string], CreateFlags>({
  define: (c) =>
    c
      .description('Create a network')
      .argument('<network>', 'network name')
      .option(
        '-d, --driver <driver>',
        'driver (bridge, macvlan, or the name of a plugin; host and null are predefined)',
        'bridge',
      )
      .option('--subnet <cidr>', 'subnet in CIDR form (repeatable)', collect)
      .option('--gateway <ip>', 'gateway for a subnet (repeatable)', collect)
      .option('--ip-range <cidr>', 'allocate container IPs from a sub-range (repeatable)', collect)
      .option('--aux-address <name=ip>', 'addresses the IPAM must not hand out (repeatable)', collect)
      .option('--ipv6', 'enable IPv6 (alias --enable-ipv6)')
      .addOption(new Option('--enable-ipv6').hideHelp())
      .option('--internal', 'restrict external access to the network')
      .option('--attachable', 'accepted and recorded (as Docker)')
      .option('-o, --opt <k=v>', 'driver option (repeatable)', collect)
      .option('--label <k[=v]>', 'metadata label (repeatable)', collect)
      .option('--ipam-driver <driver>', 'IPAM driver (default, or the name of a plugin)', 'default')
      .option('--ipam-opt <k=v>', 'IPAM driver option (repeatable)', collect),
  values: { '--driver': drivers, '--ipam-driver': ipamDrivers, '--opt': bridgeOptions },
  async run(g, io, [name], flags) {
    const req = toNetworkCreate(name, flags);
    requirePrivilege('create a network');
    io.out(`${await makeController(g, io).createNetwork(req)}\n`);
    return 0;
  },
});
