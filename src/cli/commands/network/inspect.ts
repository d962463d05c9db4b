// netctl inspect [-f FORMAT] NETWORK... (docs/reference.md §2): Docker's JSON, what was found
// on stdout and each miss on stderr. A network of global scope is read from the cluster.
import { findNetwork, findNetworkIn } from '../../../core/lookup.js';
import { resolverAddresses } from '../../../dns/view.js';
import type { NetworkRecord } from '../../../model/records.js';
import { hasPrivilege } from '../../../lib/privilege.js';
import { clusterNow, hasCluster, mergedNetworks } from '../../../overlay/global.js';
import type { ReadTxn } from '../../../store/store.js';
import { command } from '../../command.js';
import { oneOf } from '../../complete.js';
import { makeController, type Globals, type Io } from '../../wiring.js';
import { reportError } from '../../report.js';
import { compile } from '../../template.js';
import { jsonText, networkView } from '../../views.js';

export default command<[string[]], { format?: string }>({
  define: (c) =>
    c
      .description('Display detailed information on one or more networks')
      .argument('<network...>')
      .option('-f, --format <format>', 'json, or a Go template'),
  args: ['networks'],
  values: { '--format': oneOf('json') },
  run: (g, io, [refs], flags) => inspect(g, io, refs, flags),
});

async function inspect(g: Globals, io: Io, refs: string[], flags: { format?: string }): Promise<number> {
  const ctl = makeController(g, io);
  const tpl = flags.format && flags.format !== 'json' ? compile(flags.format) : null;
  // The cluster is read only when a name is not a local network's.
  const local = (tx: ReadTxn, ref: string) => {
    try {
      const n = findNetwork(tx, ref);
      return n.scope === 'local' ? n : undefined;
    } catch {
      return undefined;
    }
  };
  const needed = hasCluster(ctl.ctx) && (await ctl.view((tx) => refs.some((r) => !local(tx, r)), false));
  let cluster: Awaited<ReturnType<typeof clusterNow>>;
  let unreachable: Error | undefined;
  if (needed)
    cluster = await clusterNow(ctl.ctx).catch((e: Error) => {
      unreachable = e;
      return undefined;
    });
  // netctl's resolver, asked only when a network named has one.
  const hasDns = (nw: NetworkRecord | undefined) => (nw ? resolverAddresses(nw).length > 0 : false);
  const withDns = await ctl.view((tx) => refs.some((r) => hasDns(local(tx, r))), false);
  const resolver = withDns ? await ctl.ctx.resolver?.status() : undefined;
  const { found, errors } = await ctl.view((tx) => {
    const found: unknown[] = [];
    const errors: Error[] = [];
    for (const ref of refs) {
      try {
        const nw = local(tx, ref);
        if (nw) found.push(networkView(tx, nw, ctl.firewallName, undefined, resolver));
        else if (unreachable) throw unreachable;
        else if (!cluster) found.push(networkView(tx, findNetwork(tx, ref), ctl.firewallName));
        else {
          const g = findNetworkIn(mergedNetworks(tx, cluster.snap), ref);
          found.push(
            networkView(tx, g, ctl.firewallName, { peers: cluster.snap.peers.filter((p) => p.networkId === g.id) }),
          );
        }
      } catch (e) {
        errors.push(e as Error);
      }
    }
    return { found, errors };
  }, hasPrivilege());
  if (tpl) found.forEach((v) => io.out(`${tpl.render(v)}\n`));
  else if (flags.format === 'json') found.forEach((v) => io.out(`${jsonText(v)}\n`));
  else io.out(`${jsonText(found, 4)}\n`);
  for (const e of errors) await reportError(io, e);
  return errors.length ? 1 : 0;
}
