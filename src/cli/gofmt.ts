// Go's fmt for the values a template handles: %v printing, Printf's verbs, and the literal
// syntax of Go strings and numbers. Kept apart from template.ts, which parses and evaluates.
import { InvalidArgumentError } from '../lib/errors.js';

export const err = (m: string) => new InvalidArgumentError(`template: ${m}`);

/** Objects marked as maps print as map[k:v]; `zero` is what `index` gives for a missing key. */
export const MAP = Symbol('goMap');
export function goMap<T extends object>(o: T, zero: unknown = ''): T {
  Object.defineProperty(o, MAP, { value: { zero }, enumerable: false });
  return o;
}
export const isMap = (v: unknown): v is Record<string, unknown> =>
  typeof v === 'object' && v !== null && Object.hasOwn(v, MAP);
export const mapZero = (v: Record<string, unknown>): unknown =>
  (v as unknown as Record<symbol, { zero: unknown }>)[MAP]?.zero;

/** Go's invalid reflect.Value: a missing map key reached by a field chain, printed `<no value>`. */
export const NO_VALUE = Symbol('noValue');

/** A float64 from a template literal (1.5, 1e3): Go prints and compares it apart from an int. */
export class GoFloat {
  constructor(readonly f: number) {}
}

export type Kind = 'invalid' | 'nil' | 'bool' | 'int' | 'float64' | 'string' | 'slice' | 'map' | 'struct' | 'func';

export function kind(v: unknown): Kind {
  if (v === NO_VALUE || v === undefined) return 'invalid';
  if (v === null) return 'nil';
  if (v instanceof GoFloat) return 'float64';
  switch (typeof v) {
    case 'boolean':
      return 'bool';
    case 'number':
      return Number.isInteger(v) ? 'int' : 'float64';
    case 'string':
      return 'string';
    case 'function':
      return 'func';
    default:
      return Array.isArray(v) ? 'slice' : isMap(v) ? 'map' : 'struct';
  }
}

/**
 * strconv.FormatFloat(f, 'g', -1, 64), which %v uses: shortest digits, %e for an exponent below -4 or from 6 on
 * (1e+06).
 */
export function formatFloat(f: number): string {
  if (Number.isNaN(f)) return 'NaN';
  if (!Number.isFinite(f)) return f > 0 ? '+Inf' : '-Inf';
  if (f === 0) return Object.is(f, -0) ? '-0' : '0';
  const [mant = '', e = '0'] = f.toExponential().split('e');
  const exp = Number(e);
  if (exp < -4 || exp >= 6) return `${mant}e${exp < 0 ? '-' : '+'}${String(Math.abs(exp)).padStart(2, '0')}`;
  return String(f);
}

/** Go's fmt %v. */
export function goString(v: unknown): string {
  switch (kind(v)) {
    case 'invalid':
      return '<no value>';
    case 'nil':
      return '<nil>';
    case 'float64':
      return formatFloat(v instanceof GoFloat ? v.f : (v as number));
    case 'slice':
      return `[${(v as unknown[]).map(goString).join(' ')}]`;
    case 'map': {
      const m = v as Record<string, unknown>;
      return `map[${Object.keys(m)
        .sort()
        .map((k) => `${k}:${goString(m[k])}`)
        .join(' ')}]`;
    }
    // A struct prints its fields, not its methods.
    case 'struct':
      return `{${Object.values(v as object)
        .filter((x) => typeof x !== 'function')
        .map(goString)
        .join(' ')}}`;
    case 'func':
      return '<func>';
    default:
      return String(v);
  }
}

const typeName = (v: unknown): string => {
  const k = kind(v);
  return k === 'slice'
    ? '[]interface {}'
    : k === 'map'
      ? 'map[string]interface {}'
      : k === 'invalid' || k === 'nil'
        ? '<nil>'
        : k;
};

const QESC: Record<string, string> = {
  '\x07': '\\a',
  '\b': '\\b',
  '\f': '\\f',
  '\n': '\\n',
  '\r': '\\r',
  '\t': '\\t',
  '\v': '\\v',
  '\\': '\\\\',
  '"': '\\"',
};

/** Go's %q for a string (strconv.Quote): Go's escapes, \xHH for other control bytes, printable text kept. */
const quote = (s: string) =>
  `"${s.replace(
    /[\x00-\x1f\x7f\\"\u2028\u2029]/g,
    (c) =>
      QESC[c] ??
      (c.charCodeAt(0) > 0xff
        ? `\\u${c.charCodeAt(0).toString(16)}`
        : `\\x${c.charCodeAt(0).toString(16).padStart(2, '0')}`),
  )}"`;

const pad = (s: string, width: number | undefined, minus: boolean, zero: boolean): string => {
  if (width === undefined || s.length >= width) return s;
  if (minus) return s.padEnd(width);
  if (zero && /^[+-]?\d/.test(s)) {
    const sign = /^[+-]/.test(s) ? (s[0] ?? '') : '';
    return sign + s.slice(sign.length).padStart(width - sign.length, '0');
  }
  return s.padStart(width);
};

const BIG = 1e6; // Go's fmt refuses a width or precision past this (%!(BADWIDTH)).

/**
 * fmt.Sprintf for the verbs a format string needs: v s d q t x X o b c e f g T and %%, with flags, width and precision.
 */
export function sprintf(format: string, args: unknown[]): string {
  let n = 0;
  let out = format.replace(
    /%([-+# 0]*)(\d+|\*)?(?:\.(\d+|\*)?)?([a-zA-Z%])?/g,
    (whole, flags: string, w?: string, p?: string, verb?: string) => {
      if (verb === undefined) return '%!(NOVERB)';
      if (verb === '%') return '%';
      const star = (x: string | undefined): number | undefined | null => {
        if (x !== '*') return x === undefined ? undefined : Number(x);
        const a = args[n++];
        return typeof a === 'number' && Number.isInteger(a) ? a : null;
      };
      const width = star(w);
      const prec = whole.includes('.') ? (star(p) ?? 0) : undefined;
      if (width === null || (width !== undefined && Math.abs(width) > BIG)) return '%!(BADWIDTH)';
      if (prec === null || (prec !== undefined && prec > BIG)) return '%!(BADPREC)';
      if (n >= args.length) return `%!${verb}(MISSING)`;
      const a = args[n++];
      const k = kind(a);
      const bad = () => `%!${verb}(${typeName(a)}=${goString(a)})`;
      const num = k === 'float64' ? (a instanceof GoFloat ? a.f : (a as number)) : (a as number);
      const sign = (s: string, x: number) =>
        x >= 0 && flags.includes('+') ? `+${s}` : x >= 0 && flags.includes(' ') ? ` ${s}` : s;
      let s: string;
      switch (verb) {
        case 'v':
          s = flags.includes('#') && k === 'string' ? quote(a as string) : goString(a === NO_VALUE ? null : a);
          break;
        case 's':
          s =
            k === 'string'
              ? (a as string)
              : k === 'int' || k === 'float64' || k === 'bool'
                ? bad()
                : goString(a === NO_VALUE ? null : a);
          if (prec !== undefined && k === 'string') s = [...s].slice(0, prec).join('');
          break;
        case 'q':
          if (k === 'string') s = quote(a as string);
          else if (k === 'int') s = `'${String.fromCodePoint(num)}'`;
          else return bad();
          break;
        case 't':
          if (k !== 'bool') return bad();
          s = String(a);
          break;
        case 'd':
          if (k !== 'int') return bad();
          s = sign(String(num), num);
          break;
        case 'c':
          if (k !== 'int') return bad();
          s = String.fromCodePoint(Math.max(0, Math.min(num, 0x10ffff)));
          break;
        case 'x':
        case 'X':
        case 'o':
        case 'b': {
          const base = verb === 'o' ? 8 : verb === 'b' ? 2 : 16;
          if (k === 'int') s = sign((num < 0 ? '-' : '') + Math.abs(num).toString(base), num);
          else if (k === 'string' && base === 16) s = Buffer.from(a as string).toString('hex');
          else return bad();
          if (flags.includes('#') && base !== 2) s = s.replace(/^([+-]?)/, `$1${base === 8 ? '0' : '0x'}`);
          if (verb === 'X') s = s.toUpperCase();
          break;
        }
        case 'e':
        case 'f':
        case 'g':
        case 'E':
        case 'F':
        case 'G': {
          if (k !== 'float64') return bad();
          const v = verb.toLowerCase();
          s =
            v === 'f'
              ? num.toFixed(Math.min(prec ?? 6, 100))
              : v === 'e'
                ? num.toExponential(Math.min(prec ?? 6, 100)).replace(/e([+-])(\d)$/, 'e$10$2')
                : prec === undefined
                  ? formatFloat(num)
                  : String(Number(num.toPrecision(Math.max(1, Math.min(prec, 100)))));
          s = sign(s, num);
          if (verb !== v) s = s.toUpperCase();
          break;
        }
        case 'T':
          s = typeName(a);
          break;
        default:
          return bad();
      }
      return pad(s, width, flags.includes('-') || (width ?? 0) < 0, flags.includes('0'));
    },
  );
  if (n < args.length)
    out += `%!(EXTRA ${args
      .slice(n)
      .map((a) => `${typeName(a)}=${goString(a)}`)
      .join(', ')})`;
  return out;
}

/** strconv.Unquote for a "..." literal: Go's escapes (\a \v \x \ooo \u \U), not JSON's. */
export function unquote(lit: string): string {
  const body = lit.slice(1, -1);
  if (/\n/.test(body)) throw err(`newline in quoted string ${JSON.stringify(lit)}`);
  const ESC: Record<string, string> = {
    a: '\x07',
    b: '\b',
    f: '\f',
    n: '\n',
    r: '\r',
    t: '\t',
    v: '\v',
    '\\': '\\',
    '"': '"',
  };
  const bad = () => err(`invalid syntax in string ${JSON.stringify(lit)}`);
  let out = '';
  for (let i = 0; i < body.length; i++) {
    const c = body[i] ?? '';
    if (c !== '\\') {
      out += c;
      continue;
    }
    const e = body[++i] ?? '';
    if (e in ESC) {
      out += ESC[e];
      continue;
    }
    const hex = (len: number) => {
      const h = body.slice(i + 1, i + 1 + len);
      if (!new RegExp(`^[0-9a-fA-F]{${len}}$`).test(h)) throw bad();
      i += len;
      return parseInt(h, 16);
    };
    if (e === 'x') out += String.fromCharCode(hex(2));
    else if (e === 'u' || e === 'U') {
      const cp = hex(e === 'u' ? 4 : 8);
      if (cp > 0x10ffff || (cp >= 0xd800 && cp < 0xe000)) throw bad();
      out += String.fromCodePoint(cp);
    } else if (/[0-7]/.test(e)) {
      const o = body.slice(i, i + 3);
      if (!/^[0-7]{3}$/.test(o) || parseInt(o, 8) > 255) throw bad();
      out += String.fromCharCode(parseInt(o, 8));
      i += 2;
    } else throw bad();
  }
  return out;
}

/**
 * A Go number literal (decimal, 0x, 0o, 0b, underscores, exponent, a rune 'x'): an int as a
 * JS number, a float as GoFloat; null if `t` is not a number.
 */
export function parseNumber(t: string): number | GoFloat | null {
  const rune = /^'(\\.|[^\\'])'$/u.exec(t);
  if (rune) return (rune[1]?.length === 2 ? unquote(`"${rune[1]}"`) : (rune[1] ?? '')).codePointAt(0) ?? 0;
  if (!/^[+-]?(\.?\d|0[xXoObB])/.test(t)) return null;
  const neg = t.startsWith('-');
  const s = t.replace(/^[+-]/, '');
  if (/_/.test(s) && !/^(0[xXoObB]_?)?[0-9a-fA-F]+(_[0-9a-fA-F]+)*(\.[0-9]+)?([eE][+-]?\d+)?$/.test(s)) return null;
  const u = s.replace(/_/g, '');
  let v: number;
  if (/^0[xX][0-9a-fA-F]+$/.test(u) || /^0[oO]?[0-7]+$/.test(u) || /^0[bB][01]+$/.test(u) || /^(0|[1-9]\d*)$/.test(u)) {
    v = /^0[0-7]+$/.test(u) ? parseInt(u, 8) : Number(u.replace(/^0[oO]/, '0o'));
    if (!Number.isSafeInteger(v)) throw err(`number ${t} is out of range`);
    return neg ? -v : v;
  }
  if (!/^(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/.test(u)) return null;
  v = Number(u);
  if (!Number.isFinite(v)) throw err(`number ${t} is out of range`);
  return new GoFloat(neg ? -v : v);
}
