// netctl policy show SANDBOX [--format table|json] (docs/reference.md §16): RULE  DEST  PACKETS, one
// line per rule and one for the default, with the packets each allowed or refused.
import { UsageError } from '../../../lib/errors.js';
import { command } from '../../command.js';
import { oneOf } from '../../complete.js';
import { makeController } from '../../wiring.js';
import { tabwrite } from '../../table.js';

export default command<[string], { format?: string }>({
  define: (c) =>
    c
      .description("Show a sandbox's egress policy with the packets each rule counted")
      .argument('<sandbox>')
      .option('--format <format>', 'table or json'),
  args: ['sandboxes'],
  values: { '--format': oneOf('table', 'json') },
  async run(g, io, [sandbox], flags) {
    if (flags.format && flags.format !== 'table' && flags.format !== 'json')
      throw new UsageError(`invalid --format ${flags.format}: table or json`);
    const lines = await makeController(g, io).showPolicy(sandbox);
    if (flags.format === 'json') {
      io.out(lines.map((l) => `${JSON.stringify({ Rule: l.rule, Dest: l.dest, Packets: l.packets })}\n`).join(''));
    } else {
      io.out(tabwrite([['RULE', 'DEST', 'PACKETS'], ...lines.map((l) => [l.rule, l.dest, String(l.packets)])]));
    }
    return 0;
  },
});
