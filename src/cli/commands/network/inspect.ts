// netctl inspect [-f FORMAT] NETWORK... (docs/reference.md §2): its options and completion; what
// it does is in cli/reads.ts, which the quick path runs too.
import { command } from '../../command.js';
import { oneOf } from '../../complete.js';
import { inspectNetworks } from '../../reads.js';
import { commandReads } from '../../wiring.js';

export default command<[string[]], { format?: string }>({
  define: (c) =>
    c
      .description('Display detailed information on one or more networks')
      .argument('<network...>')
      .option('-f, --format <format>', 'json, or a Go template'),
  args: ['networks'],
  values: { '--format': oneOf('json') },
  run: (g, io, [refs], flags) => inspectNetworks(commandReads(g, io), io, refs, flags),
});
