// netctl ls (docs/reference.md §2): its options and completion; what it does is in cli/reads.ts,
// which the quick path runs too.
import { driverNames } from '../../../drivers/index.js';
import { collect, command } from '../../command.js';
import { filters } from '../../complete.js';
import { listNetworks } from '../../reads.js';
import { commandReads } from '../../wiring.js';
import { lsFormats, lsOptions } from '../list.js';
import type { LsFlags } from '../../table.js';

export default command<[], LsFlags>({
  define: (c) =>
    lsOptions(
      c
        .description('List networks')
        .option('-f, --filter <k=v>', 'filter output (driver, id, name, label, scope, type, dangling)', collect),
    ),
  values: {
    '--format': lsFormats,
    '--filter': filters({
      driver: () => driverNames(),
      id: () => [],
      name: (n) => n.networks,
      label: () => [],
      scope: () => ['local', 'global'],
      type: () => ['custom', 'builtin'],
      dangling: () => ['true', 'false'],
    }),
  },
  run: (g, io, _args, flags) => listNetworks(commandReads(g, io), io, flags),
});
