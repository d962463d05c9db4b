// netctl policy add SANDBOX --allow|--deny DEST… (docs/reference.md §16).
import { requirePrivilege } from '../../../lib/privilege.js';
import { collect, command } from '../../command.js';
import { toPolicyChange, type PolicyFlags } from '../../policy-options.js';
import { makeController } from '../../wiring.js';

export default command<[string], PolicyFlags>({
  define: (c) =>
    c
      .description("Add rules to a sandbox's egress policy")
      .argument('<sandbox>')
      .option('--allow <dest>', 'an --allow rule (repeatable)', collect)
      .option('--deny <dest>', 'a --deny rule (repeatable)', collect),
  args: ['sandboxes'],
  async run(g, io, [sandbox], flags) {
    const change = toPolicyChange('add', flags);
    requirePrivilege('change an egress policy');
    await makeController(g, io).changePolicy(sandbox, change);
    return 0;
  },
});
