// netctl update NETWORK [--label-add k=v]… [--label-rm k]… [-o k=v]… (docs/reference.md §13): in place,
// endpoints untouched.
import { UsageError } from '../../../lib/errors.js';
import { requirePrivilege } from '../../../lib/privilege.js';
import { parseKeyValues } from '../../../lib/validate.js';
import { collect, command } from '../../command.js';
import { bridgeOptions } from '../../complete.js';
import { makeController } from '../../wiring.js';

export default command<[string], { labelAdd?: string[]; labelRm?: string[]; opt?: string[] }>({
  define: (c) =>
    c
      .description('Change a network in place: labels, ICC, masquerade, MTU, gateway modes (endpoints stay)')
      .argument('<network>')
      .option('--label-add <k=v>', 'add or change a label (repeatable)', collect)
      .option('--label-rm <k>', 'remove a label (repeatable)', collect)
      .option('-o, --opt <k=v>', 'driver option to change (repeatable)', collect),
  args: ['networks'],
  values: { '--opt': bridgeOptions },
  async run(g, io, [network], flags) {
    const change = {
      labelAdd: parseKeyValues(flags.labelAdd ?? [], 'label', true),
      labelRm: flags.labelRm ?? [],
      options: parseKeyValues(flags.opt ?? [], 'option'),
    };
    if (!Object.keys(change.labelAdd).length && !change.labelRm.length && !Object.keys(change.options).length) {
      throw new UsageError('nothing to update: give --label-add, --label-rm or -o');
    }
    requirePrivilege('update a network');
    await makeController(g, io).updateNetwork(network, change);
    return 0;
  },
});
