// netctl policy set SANDBOX [--default allow|deny] [--allow DEST]… [--deny DEST]… (docs/reference.md §16):
// replaces the sandbox's egress policy.
import { requirePrivilege } from '../../../lib/privilege.js';
import { collect, command } from '../../command.js';
import { oneOf } from '../../complete.js';
import { toPolicyChange, type PolicyFlags } from '../../policy-options.js';
import { makeController } from '../../wiring.js';

export default command<[string], PolicyFlags>({
  define: (c) =>
    c
      .description("Replace a sandbox's egress policy")
      .argument('<sandbox>')
      .option('--default <verdict>', 'allow or deny what no rule names (default: deny if anything is allowed)')
      .option('--allow <dest>', 'ADDR|CIDR|NAME|*.NAME[:PORT[-PORT]][/tcp|udp] it may reach (repeatable)', collect)
      .option('--deny <dest>', 'what it may not reach; wins over --allow (repeatable)', collect),
  args: ['sandboxes'],
  values: { '--default': oneOf('allow', 'deny') },
  async run(g, io, [sandbox], flags) {
    const change = toPolicyChange('set', flags);
    requirePrivilege('change an egress policy');
    await makeController(g, io).changePolicy(sandbox, change);
    return 0;
  },
});
