// netctl exec NAME -- CMD...: CMD inside the sandbox's netns with its /etc/netns/NAME files; CMD's status.
import { findSandbox } from '../../../core/lookup.js';
import { execIn } from '../../../kernel/exec.js';
import { NotFoundError } from '../../../lib/errors.js';
import { command } from '../../command.js';
import { makeController } from '../../wiring.js';

export default command<[string, string[]], object>({
  define: (c) =>
    c
      .description("Run a command inside a sandbox's network namespace")
      .argument('<name>')
      .argument('<command...>')
      .allowUnknownOption(),
  args: ['sandboxes', 'files'],
  async run(g, io, [name, argv]) {
    const sb = await makeController(g, io).view((tx) => findSandbox(tx, name), false);
    if (!sb) throw new NotFoundError(`No such container: ${name}`);
    if (sb.state !== 'running')
      throw new NotFoundError(`container ${sb.name} is not running`, `start it: netctl sandbox start ${sb.name}`);
    return execIn(sb.netns, argv);
  },
});
