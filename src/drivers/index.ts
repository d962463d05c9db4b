// The driver registry: the one place that lists drivers. Adding a driver is a file beside
// this one and a line here.
import { bridgeDriver } from './bridge.js';
import type { Driver } from './driver.js';
import { discover } from '../kernel/plugin.js';
import { macvlanDriver } from './macvlan.js';
import { overlayDriver } from './overlay.js';
import { remoteDriver } from './remote.js';
import { hostDriver, nullDriver } from './simple.js';

const DRIVERS: Record<string, Driver> = {
  bridge: bridgeDriver,
  host: hostDriver,
  null: nullDriver,
  macvlan: macvlanDriver,
  overlay: overlayDriver,
};

/** The networks every store has, made on first use (Docker's bridge, host and none). */
export const PREDEFINED: ReadonlyArray<{ name: string; driver: string }> = [
  { name: 'bridge', driver: 'bridge' },
  { name: 'host', driver: 'host' },
  { name: 'none', driver: 'null' },
];

export const driverNames = (): string[] => Object.keys(DRIVERS);
export const allDrivers = (): Driver[] => Object.values(DRIVERS);

const remotes = new Map<string, Driver>();

/**
 * The driver of a recorded network: a name that is not built in is a plugin's (remote) driver.
 * Nothing is looked up here, so a network whose plugin is gone can still be torn down.
 */
export function driverFor(name: string): Driver {
  const d = Object.hasOwn(DRIVERS, name) ? DRIVERS[name] : undefined;
  if (d) return d;
  let r = remotes.get(name);
  if (!r) remotes.set(name, (r = remoteDriver(name)));
  return r;
}

/** The driver `-d NAME` asks for: built in, or a plugin that discovery finds (else `plugin "NAME" not found`). */
export function resolveDriver(name: string): Driver {
  if (Object.hasOwn(DRIVERS, name)) return driverFor(name);
  discover(name);
  return driverFor(name);
}
