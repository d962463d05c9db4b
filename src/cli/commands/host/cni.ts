// netctl cni (and the executable netctl-cni): the CNI plugin (docs/reference.md §12). Its input
// is the environment and stdin, not argv: named alone, it runs without the parser
// (commands/index.ts `bare`), as runtimes call it on every pod start.
import { command } from '../../command.js';

export default command<[], object>({
  define: (c) =>
    c.description(
      'Run as a CNI plugin (ADD, DEL, CHECK, STATUS, GC, VERSION from CNI_COMMAND; configuration on stdin)',
    ),
  async run(_g, io) {
    const { cniMain } = await import('../../cni.js');
    return cniMain(io, process.env);
  },
});
