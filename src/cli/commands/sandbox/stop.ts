// netctl sandbox stop NAME...: every network left, the settings and addresses kept, the netns deleted.
import { requirePrivilege } from '../../../lib/privilege.js';
import { command } from '../../command.js';
import { makeController } from '../../wiring.js';
import { eachName } from '../shared.js';

export default command<[string[]], object>({
  define: (c) =>
    c.description('Stop sandboxes: leave all networks, keep the settings, delete the netns').argument('<name...>'),
  args: ['sandboxes'],
  async run(g, io, [names]) {
    requirePrivilege('stop a sandbox');
    const ctl = makeController(g, io);
    return eachName(io, names, (n) => ctl.stopSandbox(n));
  },
});
