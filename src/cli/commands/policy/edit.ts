// What `policy add` and `policy rm` share (docs/reference.md §16): the same flags, one edit each.
import { requirePrivilege } from '../../../lib/privilege.js';
import { collect, command } from '../../command.js';
import { toPolicyChange, type PolicyFlags } from '../../policy-options.js';
import { makeController } from '../../wiring.js';

export const editCommand = (op: 'add' | 'rm', description: string) =>
  command<[string], PolicyFlags>({
    define: (c) =>
      c
        .description(description)
        .argument('<sandbox>')
        .option('--allow <dest>', 'an --allow rule (repeatable)', collect)
        .option('--deny <dest>', 'a --deny rule (repeatable)', collect),
    args: ['sandboxes'],
    async run(g, io, [sandbox], flags) {
      const change = toPolicyChange(op, flags);
      requirePrivilege('change an egress policy');
      await makeController(g, io).changePolicy(sandbox, change);
      return 0;
    },
  });
