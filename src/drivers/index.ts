// The driver registry: the one place that lists drivers. Adding a driver is a file beside
// this one and a line here.
import { NotFoundError } from '../lib/errors.js';
import { bridgeDriver } from './bridge.js';
import type { Driver } from './driver.js';
import { macvlanDriver } from './macvlan.js';
import { hostDriver, nullDriver } from './simple.js';

const DRIVERS: Record<string, Driver> = {
  bridge: bridgeDriver,
  host: hostDriver,
  null: nullDriver,
  macvlan: macvlanDriver,
};

/** The networks every store has, made on first use (Docker's bridge, host and none). */
export const PREDEFINED: ReadonlyArray<{ name: string; driver: string }> = [
  { name: 'bridge', driver: 'bridge' },
  { name: 'host', driver: 'host' },
  { name: 'none', driver: 'null' },
];

export const driverNames = (): string[] => Object.keys(DRIVERS);
export const allDrivers = (): Driver[] => Object.values(DRIVERS);

/** The driver of that name; a name that is not built in is a plugin, and none is found. */
export function driverFor(name: string): Driver {
  const d = Object.hasOwn(DRIVERS, name) ? DRIVERS[name] : undefined;
  if (!d) throw new NotFoundError(`plugin "${name}" not found`);
  return d;
}
