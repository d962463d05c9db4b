// netctl apply -f FILE [--dry-run] [--prune] (docs/reference.md §13): the host made to match a
// topology file, under one lock, all or nothing.
import { readFileSync } from 'node:fs';
import { InvalidArgumentError, UsageError } from '../../../lib/errors.js';
import { requirePrivilege } from '../../../lib/privilege.js';
import { command } from '../../command.js';
import { files } from '../../complete.js';
import { makeController } from '../../wiring.js';
import { parseTopology } from '../../topology-file.js';

export default command<[], { file?: string; dryRun?: boolean; prune?: boolean }>({
  define: (c) =>
    c
      .description('Make the host match a topology file: print the plan, apply it all or nothing')
      .option('-f, --file <file>', 'the topology (YAML or JSON; - for stdin)')
      .option('--dry-run', 'print the plan only')
      .option('--prune', 'also remove networks and sandboxes the file does not name'),
  values: { '--file': files },
  async run(g, io, _args, flags) {
    const file = flags.file;
    if (!file) throw new UsageError('apply needs -f FILE (or -f - for stdin)');
    let text: string;
    try {
      text = readFileSync(file === '-' ? 0 : file, 'utf8');
    } catch (e) {
      const why = (e as NodeJS.ErrnoException).code ?? (e as Error).message;
      throw new InvalidArgumentError(`cannot read ${file}: ${why}`);
    }
    let doc: unknown;
    try {
      // YAML 1.2 reads JSON too: one parser for both forms export writes.
      doc = (await import('yaml')).parse(text);
    } catch (e) {
      throw new InvalidArgumentError(`cannot parse ${file}: ${(e as Error).message.split('\n')[0] ?? ''}`);
    }
    const top = parseTopology(doc, file);
    if (!flags.dryRun) requirePrivilege('apply a topology');
    const opts = { dryRun: flags.dryRun ?? false, prune: flags.prune ?? false, file };
    const plan = await makeController(g, io).applyTopology(top, opts);
    if (plan.length === 0) {
      io.out(`no changes: the host matches ${file}\n`);
      return 0;
    }
    for (const c of plan) io.out(`${c.sign} ${c.text}\n`);
    const n = (s: string) => plan.filter((c) => c.sign === s).length;
    const tail = flags.dryRun ? ' (dry run: nothing changed)' : '';
    io.out(`${flags.dryRun ? 'plan' : 'applied'}: ${n('+')} to add, ${n('~')} to change, ${n('-')} to remove${tail}\n`);
    return 0;
  },
});
