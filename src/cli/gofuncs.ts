// The functions a template can call: Go's builtins (index, slice, len, print, printf, println,
// eq, ne, lt, le, gt, ge, not, and, or) and Docker's (json, join, split, upper, lower, title),
// with Go's argument counts, types and comparison rules.
import { GoFloat, NO_VALUE, err, goString, kind, mapZero, sprintf } from './gofmt.js';

/** Go's isTrue: false, 0, nil, and empty strings, lists and maps are false; a struct is true. */
export function truthy(v: unknown): boolean {
  switch (kind(v)) {
    case 'invalid':
    case 'nil':
      return false;
    case 'bool':
      return v === true;
    case 'int':
      return v !== 0;
    case 'float64':
      return (v instanceof GoFloat ? v.f : (v as number)) !== 0;
    case 'string':
      return v !== '';
    case 'slice':
      return (v as unknown[]).length > 0;
    case 'map':
      return Object.keys(v as object).length > 0;
    default:
      return true;
  }
}

/** Go's comparison kinds: only bool, int, float64 and string compare with each other. */
function basic(v: unknown): 'bool' | 'int' | 'float64' | 'string' | null {
  const k = kind(v);
  return k === 'bool' || k === 'int' || k === 'float64' || k === 'string' ? k : null;
}
const num = (v: unknown) => (v instanceof GoFloat ? v.f : v);

function eq2(a: unknown, b: unknown): boolean {
  const ka = basic(a);
  const kb = basic(b);
  if (ka && ka === kb) return num(a) === num(b);
  const valid = (v: unknown) => v !== NO_VALUE && v !== undefined;
  if (ka && kb) throw err('incompatible types for comparison');
  for (const v of [a, b]) if (['slice', 'map', 'func'].includes(kind(v))) throw err(`non-comparable type ${kind(v)}`);
  if (!valid(a) || !valid(b) || a === null || b === null) {
    if (valid(a) && valid(b) && (a === null) !== (b === null) && (ka || kb))
      throw err('incompatible types for comparison');
    return (a === null || !valid(a)) && (b === null || !valid(b)) ? valid(a) === valid(b) : false;
  }
  return JSON.stringify(a) === JSON.stringify(b);
}

function cmp(a: unknown, b: unknown): number {
  const ka = basic(a);
  const kb = basic(b);
  if (!ka || !kb || ka === 'bool' || kb === 'bool') throw err('invalid type for comparison');
  if (ka !== kb) throw err('incompatible types for comparison');
  const x = num(a) as number | string;
  const y = num(b) as number | string;
  return x < y ? -1 : x > y ? 1 : 0;
}

const str = (fn: string, v: unknown): string => {
  if (typeof v !== 'string')
    throw err(
      `error calling ${fn}: wrong type for value; expected string; got ${v === NO_VALUE ? 'invalid value' : kind(v)}`,
    );
  return v;
};

/** Go's strings.Title, as Docker's `title`: a letter after a separator (not a letter, digit or _) goes upper case. */
const title = (s: string) =>
  s.replace(/(^|[^\p{L}\p{N}_])(\p{L})/gu, (_m, a: string, b: string) => a + b.toUpperCase());

function indexOne(cur: unknown, k: unknown): unknown {
  const kc = kind(cur);
  if (kc === 'slice' || kc === 'string') {
    const list = kc === 'string' ? Buffer.from(cur as string) : (cur as unknown[]);
    if (kind(k) !== 'int') throw err(`error calling index: cannot index slice/array with type ${kind(k)}`);
    const i = k as number;
    if (i < 0 || i >= list.length) throw err(`error calling index: index out of range: ${i}`);
    return list[i];
  }
  if (kc === 'map') {
    if (typeof k !== 'string') throw err(`error calling index: value has type ${kind(k)}; should be string`);
    const m = cur as Record<string, unknown>;
    return Object.hasOwn(m, k) ? m[k] : mapZero(m); // Go: the zero value of the element type
  }
  throw err(`error calling index: can't index item of type ${kc === 'invalid' ? 'untyped nil' : kc}`);
}

export interface Fn {
  min: number;
  max: number;
  f: (...a: unknown[]) => unknown;
}
const fn = (min: number, max: number, f: (...a: unknown[]) => unknown): Fn => ({ min, max, f });
/** For arguments Go declares as interface{}: a missing value arrives as nil. */
const iface = (v: unknown) => (v === NO_VALUE ? null : v);

/**
 * Go's builtins and Docker's template functions (json, join, split, upper, lower, title). and/or short-circuit in
 * evalCall.
 */
export const FUNCS: Record<string, Fn> = {
  index: fn(1, Infinity, (v, ...keys) => keys.reduce(indexOne, v)),
  slice: fn(1, 4, (v, ...ix) => {
    const k = kind(v);
    if (k !== 'slice' && k !== 'string') throw err(`error calling slice: can't slice item of type ${k}`);
    if (k === 'string' && ix.length > 2) throw err('error calling slice: cannot 3-index slice a string');
    const len = k === 'string' ? Buffer.byteLength(v as string) : (v as unknown[]).length;
    const [i = 0, j = len] = ix.map((x) => {
      if (kind(x) !== 'int') throw err('error calling slice: index must be an int');
      return x as number;
    });
    if (i < 0 || j < i || j > len) throw err(`error calling slice: index out of range: ${j > len ? j : i}`);
    return k === 'string'
      ? Buffer.from(v as string)
          .subarray(i, j)
          .toString()
      : (v as unknown[]).slice(i, j);
  }),
  len: fn(1, 1, (v) => {
    const k = kind(v);
    if (k === 'string') return Buffer.byteLength(v as string);
    if (k === 'slice') return (v as unknown[]).length;
    if (k === 'map') return Object.keys(v as object).length;
    throw err(`error calling len: len of ${k === 'invalid' || k === 'nil' ? 'nil pointer' : `type ${k}`}`);
  }),
  json: fn(1, 1, (v) => JSON.stringify(iface(v)) ?? 'null'),
  join: fn(2, 2, (list, sep) => {
    if (!Array.isArray(list)) throw err('error calling join: wrong type for value; expected []string');
    return list.map((x) => str('join', x)).join(str('join', sep));
  }),
  split: fn(2, 2, (s, sep) => str('split', s).split(str('split', sep))),
  upper: fn(1, 1, (s) => str('upper', s).toUpperCase()),
  lower: fn(1, 1, (s) => str('lower', s).toLowerCase()),
  title: fn(1, 1, (s) => title(str('title', s))),
  printf: fn(1, Infinity, (f, ...a) => sprintf(str('printf', f), a.map(iface))),
  // fmt.Sprint puts a space between operands when neither is a string.
  print: fn(0, Infinity, (...a) =>
    a
      .map(iface)
      .map((x, i, all) => (i > 0 && typeof x !== 'string' && typeof all[i - 1] !== 'string' ? ' ' : '') + goString(x))
      .join(''),
  ),
  println: fn(0, Infinity, (...a) => `${a.map(iface).map(goString).join(' ')}\n`),
  eq: fn(2, Infinity, (a, ...bs) => bs.some((b) => eq2(a, b))),
  ne: fn(2, 2, (a, b) => !eq2(a, b)),
  lt: fn(2, 2, (a, b) => cmp(a, b) < 0),
  le: fn(2, 2, (a, b) => cmp(a, b) <= 0),
  gt: fn(2, 2, (a, b) => cmp(a, b) > 0),
  ge: fn(2, 2, (a, b) => cmp(a, b) >= 0),
  not: fn(1, 1, (a) => !truthy(a)),
  and: fn(1, Infinity, () => undefined),
  or: fn(1, Infinity, () => undefined),
};
