// netctl graph [--format text|dot|svg] (docs/reference.md §13).
import { ProcessRunner } from '../../../kernel/runner.js';
import { UsageError } from '../../../lib/errors.js';
import { hasPrivilege } from '../../../lib/privilege.js';
import { command } from '../../command.js';
import { oneOf } from '../../complete.js';
import { makeController } from '../../wiring.js';
import { graphDot, graphModel, graphSvg, graphText } from '../../graph.js';

export default command<[], { format?: string }>({
  define: (c) =>
    c
      .description('Show networks, sandboxes, endpoints and ports as a tree, Graphviz DOT or SVG')
      .option('--format <format>', 'text, dot or svg', 'text'),
  values: { '--format': oneOf('text', 'dot', 'svg') },
  async run(g, io, _args, flags) {
    const fmt = flags.format ?? 'text';
    if (!['text', 'dot', 'svg'].includes(fmt)) throw new UsageError(`invalid format "${fmt}": use text, dot or svg`);
    const model = await makeController(g, io).view((tx) => graphModel(tx), hasPrivilege());
    if (fmt === 'text') io.out(await graphText(model));
    else if (fmt === 'dot') io.out(graphDot(model));
    else io.out(await graphSvg(new ProcessRunner(), graphDot(model)));
    return 0;
  },
});
