// netctl sandbox start NAME...: the netns again, and every recorded network joined.
import { requirePrivilege } from '../../../lib/privilege.js';
import { command } from '../../command.js';
import { makeController } from '../../wiring.js';
import { eachName } from '../shared.js';

export default command<[string[]], object>({
  define: (c) =>
    c.description('Start sandboxes: recreate the netns and join every recorded network').argument('<name...>'),
  args: ['sandboxes'],
  async run(g, io, [names]) {
    requirePrivilege('start a sandbox');
    const ctl = makeController(g, io);
    return eachName(io, names, (n) => ctl.startSandbox(n));
  },
});
