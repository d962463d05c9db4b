// netctl cni conflist NETWORK [--name N] [--cni-version V] (docs/reference.md §15): the network
// configuration list a CNI runtime reads from /etc/cni/net.d, with netctl-cni as its plugin.
import { findNetwork } from '../../../core/lookup.js';
import { UsageError } from '../../../lib/errors.js';
import { checkName } from '../../../lib/validate.js';
import { SUPPORTED_VERSIONS } from '../../cni-protocol.js';
import { command } from '../../command.js';
import { oneOf } from '../../complete.js';
import { makeController } from '../../wiring.js';

/** The state root a plugin finds without being told. */
const DEFAULT_ROOT = '/var/lib/netctl';

export default command<[string], { name?: string; cniVersion?: string }>({
  define: (c) =>
    c
      .description('Print a CNI configuration list for NETWORK (for /etc/cni/net.d)')
      .argument('<network>')
      .option('--name <name>', 'the conflist name runtimes use (default: the network name)')
      .option('--cni-version <version>', `the cniVersion the runtime understands (${SUPPORTED_VERSIONS.join(', ')})`),
  args: ['networks'],
  values: { '--cni-version': oneOf(...SUPPORTED_VERSIONS) },
  async run(g, io, [network], flags) {
    const version = flags.cniVersion ?? '1.0.0';
    if (!SUPPORTED_VERSIONS.includes(version)) {
      throw new UsageError(`invalid --cni-version ${version}: ${SUPPORTED_VERSIONS.join(', ')}`);
    }
    if (flags.name !== undefined) checkName('network', flags.name);
    const nw = await makeController(g, io).view((tx) => findNetwork(tx, network), false);
    const plugin = { type: 'netctl-cni', network: nw.name, ...(g.root !== DEFAULT_ROOT ? { root: g.root } : {}) };
    io.out(`${JSON.stringify({ cniVersion: version, name: flags.name ?? nw.name, plugins: [plugin] }, null, 2)}\n`);
    return 0;
  },
});
