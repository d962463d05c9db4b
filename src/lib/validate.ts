// Every user string that can reach `ip` is checked here first (docs/reference.md §3, §8).
import { InvalidArgumentError } from './errors.js';

const NAME_RE = /^[a-zA-Z0-9][a-zA-Z0-9_.-]*$/;

/** Network and sandbox names: [a-zA-Z0-9][a-zA-Z0-9_.-]*, at most 64 characters. */
export function checkName(kind: 'network' | 'container' | 'node', name: string): string {
  if (name.length === 0) throw new InvalidArgumentError(`${kind} name must not be empty`);
  if (name.length > 64 || !NAME_RE.test(name)) {
    throw new InvalidArgumentError(
      `invalid ${kind} name "${printable(name)}": only [a-zA-Z0-9][a-zA-Z0-9_.-] are allowed, at most 64 characters`,
    );
  }
  return name;
}

/** Linux interface names: 1..15 bytes, no '/', ':', whitespace; and we also refuse a leading '-'. */
export function checkIfName(name: string, what = 'interface name'): string {
  if (!/^[a-zA-Z0-9][a-zA-Z0-9_.-]{0,14}$/.test(name) || Buffer.byteLength(name) > 15) {
    throw new InvalidArgumentError(`invalid ${what} "${printable(name)}": 1 to 15 characters of [a-zA-Z0-9_.-]`);
  }
  return name;
}

/** Makes control characters visible so an error stays on one line. */
export function printable(s: string): string {
  return s.replace(/[\u0000-\u001f\u007f]/g, (c) => `\\x${c.charCodeAt(0).toString(16).padStart(2, '0')}`);
}

/** Parses k=v options; `allowBare` accepts "k" alone (labels) with an empty value. */
export function parseKeyValues(list: string[], what: string, allowBare = false): Record<string, string> {
  const out: Record<string, string> = {};
  for (const item of list) {
    const eq = item.indexOf('=');
    if (eq === 0 || (eq < 0 && !allowBare))
      throw new InvalidArgumentError(`invalid ${what} "${printable(item)}": expected key=value`);
    const k = eq < 0 ? item : item.slice(0, eq);
    out[k] = eq < 0 ? '' : item.slice(eq + 1);
  }
  return out;
}

/** A label filter: `key` set, and to `value` when one is given. */
export function matchesLabel(labels: Record<string, string>, key: string, value?: string): boolean {
  if (!(key in labels)) return false;
  return value === undefined || labels[key] === value;
}
