// host and null: networks with no devices; their endpoints only record membership.
import { ForbiddenError } from '../lib/errors.js';
import type { Driver } from './driver.js';

function deviceless(name: string, checkJoin: Driver['checkJoin']): Driver {
  return {
    name,
    plumbs: false,
    singleton: true,
    parseOptions: (o) => o,
    initState: () => ({}),
    createNetwork: () => [],
    deleteNetwork: () => [],
    endpointNames: () => ({ ifName: '', hostIf: '' }),
    join: () => [],
    leave: () => [],
    ...(checkJoin ? { checkJoin } : {}),
  };
}

export const hostDriver = deviceless('host', () => {
  throw new ForbiddenError('container cannot be disconnected from host network or connected to host network');
});

export const nullDriver = deviceless('null', (_nw, sb) => {
  if (Object.keys(sb.networks).length > 0)
    throw new ForbiddenError('container cannot be disconnected from none network or connected to none network');
});
