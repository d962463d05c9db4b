// netctl policy clear SANDBOX (docs/reference.md §16): the sandbox may reach anything again.
import { requirePrivilege } from '../../../lib/privilege.js';
import { command } from '../../command.js';
import { makeController } from '../../wiring.js';

export default command<[string], object>({
  define: (c) => c.description("Remove a sandbox's egress policy").argument('<sandbox>'),
  args: ['sandboxes'],
  async run(g, io, [sandbox]) {
    requirePrivilege('change an egress policy');
    await makeController(g, io).changePolicy(sandbox, { op: 'clear' });
    return 0;
  },
});
