// netctl sandbox inspect NAME...: EndpointSettings per network, pouch's NetworkSettings.Networks shape.
import { findSandbox } from '../../../core/lookup.js';
import { NotFoundError } from '../../../lib/errors.js';
import { hasPrivilege } from '../../../lib/privilege.js';
import { command } from '../../command.js';
import { makeController } from '../../wiring.js';
import { reportError } from '../../report.js';
import { sandboxView } from '../../views.js';

export default command<[string[]], object>({
  define: (c) => c.description('Display the network settings of sandboxes').argument('<name...>'),
  args: ['sandboxes'],
  async run(g, io, [names]) {
    const { found, errors } = await makeController(g, io).view((tx) => {
      const found: unknown[] = [];
      const errors: Error[] = [];
      for (const n of names) {
        const sb = findSandbox(tx, n);
        if (sb) found.push(sandboxView(tx, sb));
        else errors.push(new NotFoundError(`No such container: ${n}`));
      }
      return { found, errors };
    }, hasPrivilege());
    io.out(`${JSON.stringify(found, null, 4)}\n`);
    for (const e of errors) await reportError(io, e);
    return errors.length ? 1 : 0;
  },
});
