// netctl export [-o yaml|json] (docs/reference.md §13): the topology as a file `apply` takes.
import { UsageError } from '../../../lib/errors.js';
import { hasPrivilege } from '../../../lib/privilege.js';
import type { NetworkRecord } from '../../../model/records.js';
import { command } from '../../command.js';
import { oneOf } from '../../complete.js';
import { makeController } from '../../wiring.js';
import { exportTopology } from '../../topology-file.js';

export default command<[], { output?: string }>({
  define: (c) =>
    c
      .description('Print the topology (networks, sandboxes, endpoints, ports) as a file apply takes')
      .option('-o, --output <format>', 'yaml or json', 'yaml'),
  values: { '--output': oneOf('yaml', 'json') },
  async run(g, io, _args, flags) {
    const fmt = flags.output ?? 'yaml';
    if (fmt !== 'yaml' && fmt !== 'json') throw new UsageError(`invalid output format "${fmt}": use yaml or json`);
    const ctl = makeController(g, io);
    // The networks a scope makes and joins of its own accord (the gwbridge) are nothing to declare.
    const own = (n: NetworkRecord) => n.scope === 'local' && ctl.ctx.scope?.manages(n) === true;
    const doc = await ctl.view((tx) => exportTopology(tx, own), hasPrivilege());
    if (fmt === 'json') io.out(`${JSON.stringify(doc, null, 2)}\n`);
    else io.out((await import('yaml')).stringify(doc));
    return 0;
  },
});
