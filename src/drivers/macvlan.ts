// The macvlan driver (docs/reference.md §10): each endpoint is a macvlan child of the parent interface,
// created directly inside the sandbox. No bridge and no firewall rules: the gateway lives on
// the parent's LAN, and the kernel never lets a macvlan child reach its own host through the
// parent. The parent is the user's device: netctl never creates, changes or deletes it.
import { ConflictError, InvalidArgumentError, NotFoundError } from '../lib/errors.js';
import { checkIfName } from '../lib/validate.js';
import { linkDel, macvlanAdd } from '../kernel/ops.js';
import { containerIf, OPT, parseCommonOption } from './common.js';
import type { Driver } from './driver.js';

const PARENT = 'parent';
const MODE = 'macvlan_mode';
const MODES = ['bridge', 'private', 'vepa', 'passthru'];

export const macvlanDriver: Driver = {
  name: 'macvlan',
  plumbs: true,

  parseOptions(opts, name) {
    const out = { ...opts };
    const parent = opts[PARENT];
    if (parent === undefined) throw new InvalidArgumentError(`macvlan network ${name} needs -o parent=<interface>`);
    checkIfName(parent, 'parent interface name');
    const mode = opts[MODE] ?? 'bridge';
    if (!MODES.includes(mode))
      throw new InvalidArgumentError(
        `invalid ${MODE} ${JSON.stringify(mode)} for macvlan network ${name}: one of ${MODES.join(', ')}`,
      );
    out[MODE] = mode;
    for (const [k, v] of Object.entries(opts)) {
      const norm = parseCommonOption(k, v);
      if (norm !== undefined) out[k] = norm;
    }
    return out;
  },

  initState: () => ({}),

  /** The parent must be a real uplink: not the loopback, nor a device netctl made for another network. */
  async checkCreate({ tx, kernel }, nw) {
    const parent = nw.options[PARENT] ?? '';
    const link = (await kernel.links()).get(parent);
    if (!link) throw new NotFoundError(`parent interface ${parent} not found`);
    if (link.link_type === 'loopback')
      throw new InvalidArgumentError(`parent interface ${parent} cannot carry a macvlan network: it is the loopback`);
    const bridgeOf = (dev: string) => tx.list('networks').find((n) => n.driverState['bridge'] === dev);
    const owner = bridgeOf(parent);
    if (owner) throw new ConflictError(`parent interface ${parent} is the bridge of network ${owner.name}`);
    const ep = tx.list('endpoints').find((e) => e.hostIf === parent);
    if (ep)
      throw new ConflictError(
        `parent interface ${parent} is an endpoint of container ` +
          `${tx.get('sandboxes', ep.sandboxId)?.name ?? ep.sandboxId.slice(0, 12)}`,
      );
    const port = link.master ? bridgeOf(link.master) : undefined;
    if (port) throw new ConflictError(`parent interface ${parent} is a port of the bridge of network ${port.name}`);
  },

  createNetwork: () => [],
  // The parent is not ours: removing the network removes nothing on the host.
  deleteNetwork: () => [],

  endpointNames: (nw, n) => ({ ifName: containerIf(nw, n), hostIf: '' }),

  join(nw, ep, sb) {
    const add = macvlanAdd(
      nw.options[PARENT] ?? '',
      ep.ifName,
      nw.options[MODE] ?? 'bridge',
      ep.mac,
      sb.netns,
      nw.options[OPT.mtu],
    );
    return [{ cmds: [add], undo: [{ ns: sb.netns, args: linkDel(ep.ifName) }] }];
  },

  leave(_nw, ep, sb) {
    return [{ ns: sb.netns, args: linkDel(ep.ifName) }];
  },

  async checkNetwork({ kernel }, nw) {
    const parent = nw.options[PARENT] ?? '';
    return {
      drift: (await kernel.links()).has(parent) ? [] : [`parent interface ${parent} is missing`],
      repair: [],
      repaired: [],
    };
  },

  /** The child lives in the sandbox: missing there means join makes it again. */
  async checkEndpoint({ kernel }, _nw, ep, sb) {
    return { drift: [], repair: [], repaired: [], missing: !(await kernel.links(sb.netns)).has(ep.ifName) };
  },
};
