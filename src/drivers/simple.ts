// host and null: networks with no devices; their endpoints only record membership.
import type { Driver } from './driver.js';

function deviceless(name: string): Driver {
  return {
    name,
    plumbs: false,
    parseOptions: (o) => o,
    initState: () => ({}),
    createNetwork: () => [],
    deleteNetwork: () => [],
    join: () => [],
    leave: () => [],
    setGateway: () => [],
  };
}

export const hostDriver = deviceless('host');
export const nullDriver = deviceless('null');
