// netctl agent: keeps this host's overlay peers in step with the cluster store while it runs.
import { UsageError } from '../../../lib/errors.js';
import { requirePrivilege } from '../../../lib/privilege.js';
import { command } from '../../command.js';
import { makeController } from '../../wiring.js';

export default command<[], { heartbeat?: string }>({
  define: (c) =>
    c
      .description("Keep this host's overlay peers (FDB and neighbour entries) in step with the cluster store")
      .option('--heartbeat <seconds>', 'how often to record that this host is alive', '10'),
  async run(g, io, _args, flags) {
    requirePrivilege('run the agent');
    const heartbeat = Number(flags.heartbeat ?? '10');
    if (!Number.isFinite(heartbeat) || heartbeat < 1 || heartbeat > 3600)
      throw new UsageError(`invalid --heartbeat ${flags.heartbeat}: seconds from 1 to 3600`);
    const stop = new Promise<void>((resolve) => {
      process.once('SIGTERM', () => resolve());
      process.once('SIGINT', () => resolve());
    });
    const log = (m: string) => io.err(`${new Date().toISOString()} ${m}\n`);
    const { runAgent } = await import('../../../overlay/nodes.js');
    await runAgent(makeController(g, io).ctx, { heartbeat, log, stop });
    return 0;
  },
});
