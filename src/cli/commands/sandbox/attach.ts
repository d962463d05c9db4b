// netctl sandbox attach NAME (--netns PATH | --pid PID) | REF (docker:web, ...): adopt a netns
// another runtime made (docs/reference.md §15).
import { UsageError } from '../../../lib/errors.js';
import { requirePrivilege } from '../../../lib/privilege.js';
import { command } from '../../command.js';
import { files, oneOf } from '../../complete.js';
import { makeController } from '../../wiring.js';
import { dnsKeep } from '../shared.js';

export default command<[string], { netns?: string; pid?: string; dnsConfig?: string }>({
  define: (c) =>
    c
      .description('Manage a network namespace made by another runtime (by path or by a process in it)')
      .argument('<name>')
      .option('--netns <path>', 'the namespace file, e.g. /var/run/netns/NAME or /proc/PID/ns/net')
      .option('--pid <pid>', 'a process inside the namespace')
      .option('--dns-config <mode>', "auto: point the container's resolv.conf at netctl's resolver; keep: leave it"),
  args: [],
  values: { '--netns': files, '--dns-config': oneOf('auto', 'keep') },
  async run(g, io, [name], flags) {
    if (flags.pid !== undefined && !/^\d+$/.test(flags.pid))
      throw new UsageError(`invalid argument "${flags.pid}" for "--pid" flag`);
    requirePrivilege('attach a sandbox');
    const src = {
      ...(flags.netns !== undefined ? { netns: flags.netns } : {}),
      ...(flags.pid !== undefined ? { pid: Number(flags.pid) } : {}),
      dnsKeep: dnsKeep(flags.dnsConfig),
    };
    io.out(`${await makeController(g, io).attachSandbox(name, src)}\n`);
    return 0;
  },
});
