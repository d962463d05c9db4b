// Operator commands (SPEC §13): update, export, apply, graph. Parse -> convert -> controller
// -> print. The yaml package is loaded only by export and apply, cli-table3 only by graph.
import { readFileSync } from 'node:fs';
import { ProcessRunner } from '../../kernel/runner.js';
import { InvalidArgumentError, UsageError } from '../../lib/errors.js';
import { hasPrivilege, requirePrivilege } from '../../lib/privilege.js';
import { parseKeyValues } from '../../lib/validate.js';
import { makeController, type Globals, type Io } from '../context.js';
import { graphDot, graphModel, graphSvg, graphText } from '../graph.js';
import { exportTopology, parseTopology } from '../topology-file.js';

export async function update(
  g: Globals,
  io: Io,
  network: string,
  flags: { labelAdd?: string[]; labelRm?: string[]; opt?: string[] },
): Promise<number> {
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
}

export async function exportCmd(g: Globals, io: Io, flags: { output?: string }): Promise<number> {
  const fmt = flags.output ?? 'yaml';
  if (fmt !== 'yaml' && fmt !== 'json') throw new UsageError(`invalid output format "${fmt}": use yaml or json`);
  const doc = await makeController(g, io).view((tx) => exportTopology(tx), hasPrivilege());
  if (fmt === 'json') io.out(`${JSON.stringify(doc, null, 2)}\n`);
  else io.out((await import('yaml')).stringify(doc));
  return 0;
}

export async function apply(
  g: Globals,
  io: Io,
  flags: { file?: string; dryRun?: boolean; prune?: boolean },
): Promise<number> {
  const file = flags.file;
  if (!file) throw new UsageError('apply needs -f FILE (or -f - for stdin)');
  let text: string;
  try {
    text = readFileSync(file === '-' ? 0 : file, 'utf8');
  } catch (e) {
    throw new InvalidArgumentError(`cannot read ${file}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
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
  const plan = await makeController(g, io).applyTopology(top, {
    dryRun: flags.dryRun ?? false,
    prune: flags.prune ?? false,
    file,
  });
  if (plan.length === 0) {
    io.out(`no changes: the host matches ${file}\n`);
    return 0;
  }
  for (const c of plan) io.out(`${c.sign} ${c.text}\n`);
  const n = (s: string) => plan.filter((c) => c.sign === s).length;
  io.out(
    `${flags.dryRun ? 'plan' : 'applied'}: ${n('+')} to add, ${n('~')} to change, ${n('-')} to remove${flags.dryRun ? ' (dry run: nothing changed)' : ''}\n`,
  );
  return 0;
}

export async function graph(g: Globals, io: Io, flags: { format?: string }): Promise<number> {
  const fmt = flags.format ?? 'text';
  if (!['text', 'dot', 'svg'].includes(fmt)) throw new UsageError(`invalid format "${fmt}": use text, dot or svg`);
  const model = await makeController(g, io).view((tx) => graphModel(tx), hasPrivilege());
  if (fmt === 'text') io.out(await graphText(model));
  else if (fmt === 'dot') io.out(graphDot(model));
  else io.out(await graphSvg(new ProcessRunner(), graphDot(model)));
  return 0;
}
