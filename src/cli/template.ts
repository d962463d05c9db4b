// A subset of Go's text/template, enough for Docker-style `--format` strings:
// fields and nested fields, $ and range variables, parenthesised pipelines, if/else/range/with,
// and the functions docker users reach for. Values print the way Go prints them.
import { InvalidArgumentError } from '../lib/errors.js';

/** Objects marked as maps print as map[k:v] and yield <no value> for a missing key (Go maps). */
const MAP = Symbol('goMap');
export function goMap<T extends object>(o: T): T {
  Object.defineProperty(o, MAP, { value: true, enumerable: false });
  return o;
}
const isMap = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && MAP in v;

type Operand =
  | { k: 'field'; base: 'dot' | 'var' | 'paren'; name?: string; inner?: Pipe; path: string[] }
  | { k: 'fn'; name: string }
  | { k: 'lit'; v: unknown };
interface Pipe { decl: string[]; cmds: Operand[][] }
type Node =
  | { t: 'text'; s: string }
  | { t: 'out'; p: Pipe }
  | { t: 'if' | 'with'; p: Pipe; body: Node[]; alt: Node[] }
  | { t: 'range'; p: Pipe; body: Node[]; alt: Node[] };

const err = (m: string) => new InvalidArgumentError(`template: ${m}`);

// ---------------------------------------------------------------- lexing

function tokenize(src: string): string[] {
  const out: string[] = [];
  let i = 0;
  while (i < src.length) {
    const c = src[i] ?? '';
    if (/\s/.test(c)) { i++; continue; }
    if (c === '"' || c === '`') {
      let j = i + 1;
      while (j < src.length && src[j] !== c) j += src[j] === '\\' && c === '"' ? 2 : 1;
      if (j >= src.length) throw err(`unterminated string in "${src}"`);
      out.push(src.slice(i, j + 1));
      i = j + 1;
      continue;
    }
    if (c === ':' && src[i + 1] === '=') { out.push(':='); i += 2; continue; }
    if ('()|,'.includes(c)) { out.push(c); i++; continue; }
    let j = i;
    while (j < src.length && !/[\s()|,"`]/.test(src[j] ?? '') && !(src[j] === ':' && src[j + 1] === '=')) j++;
    if (j === i) throw err(`unexpected "${c}" in "${src}"`);
    out.push(src.slice(i, j));
    i = j;
  }
  return out;
}

// ---------------------------------------------------------------- parsing

class Parser {
  private pos = 0;
  constructor(private readonly toks: string[], private readonly src: string) {}

  done(): boolean { return this.pos >= this.toks.length; }
  peek(): string | undefined { return this.toks[this.pos]; }
  next(): string | undefined { return this.toks[this.pos++]; }

  pipe(allowDecl: boolean): Pipe {
    const decl: string[] = [];
    if (allowDecl) {
      // "$k, $v :=" or "$v :="
      const save = this.pos;
      const names: string[] = [];
      while (this.peek()?.startsWith('$')) {
        names.push(this.next() ?? '');
        if (this.peek() === ',') { this.next(); continue; }
        break;
      }
      if (names.length && this.peek() === ':=') { this.next(); decl.push(...names.map((n) => n.slice(1))); }
      else this.pos = save;
    }
    const cmds: Operand[][] = [];
    for (;;) {
      const cmd: Operand[] = [];
      while (!this.done() && this.peek() !== '|' && this.peek() !== ')') cmd.push(this.operand());
      if (cmd.length === 0) throw err(`missing value for command in "${this.src}"`);
      cmds.push(cmd);
      if (this.peek() !== '|') break;
      this.next();
    }
    return { decl, cmds };
  }

  operand(): Operand {
    const t = this.next() ?? '';
    if (t === '(') {
      const inner = this.pipe(false);
      if (this.next() !== ')') throw err(`unclosed left paren in "${this.src}"`);
      const path: string[] = [];
      while (this.peek()?.startsWith('.')) path.push(...(this.next() ?? '').slice(1).split('.'));
      return { k: 'field', base: 'paren', inner, path };
    }
    if (t.startsWith('"')) return { k: 'lit', v: JSON.parse(t) as string };
    if (t.startsWith('`')) return { k: 'lit', v: t.slice(1, -1) };
    if (/^-?\d+(\.\d+)?$/.test(t)) return { k: 'lit', v: Number(t) };
    if (t === 'true' || t === 'false') return { k: 'lit', v: t === 'true' };
    if (t === 'nil') return { k: 'lit', v: null };
    if (t === '.') return { k: 'field', base: 'dot', path: [] };
    if (t.startsWith('.')) return { k: 'field', base: 'dot', path: t.slice(1).split('.') };
    if (t.startsWith('$')) {
      const [name = '', ...path] = t.slice(1).split('.');
      return { k: 'field', base: 'var', name, path };
    }
    if (/^[A-Za-z_]\w*$/.test(t)) {
      if (!(t in FUNCS)) throw err(`function "${t}" not defined`);
      return { k: 'fn', name: t };
    }
    throw err(`unexpected "${t}" in "${this.src}"`);
  }
}

export function parseTemplate(src: string): Node[] {
  // Split into text and actions, honouring {{- and -}} trim markers.
  const parts: Array<{ text: string } | { action: string }> = [];
  let i = 0;
  while (i < src.length) {
    const open = src.indexOf('{{', i);
    if (open < 0) { parts.push({ text: src.slice(i) }); break; }
    let text = src.slice(i, open);
    let start = open + 2;
    if (src[start] === '-' && /\s/.test(src[start + 1] ?? '')) { text = text.trimEnd(); start++; }
    parts.push({ text });
    let j = start;
    let quote = '';
    while (j < src.length) {
      const c = src[j];
      if (quote) { if (c === '\\' && quote === '"') j++; else if (c === quote) quote = ''; }
      else if (c === '"' || c === '`') quote = c;
      else if (c === '}' && src[j + 1] === '}') break;
      j++;
    }
    if (j >= src.length) throw err(`unclosed action in "${src}"`);
    let body = src.slice(start, j);
    let after = j + 2;
    if (/\s-$/.test(body)) {
      body = body.slice(0, -1);
      while (after < src.length && /\s/.test(src[after] ?? '')) after++;
    }
    parts.push({ action: body.trim() });
    i = after;
  }

  let k = 0;
  const block = (stopAt: string[]): { nodes: Node[]; stop: string; rest: Parser | null } => {
    const nodes: Node[] = [];
    while (k < parts.length) {
      const p = parts[k++];
      if (!p) break;
      if ('text' in p) { if (p.text) nodes.push({ t: 'text', s: p.text }); continue; }
      if (p.action.startsWith('/*')) continue;
      const toks = tokenize(p.action);
      const head = toks[0] ?? '';
      if (stopAt.includes(head)) return { nodes, stop: head, rest: new Parser(toks.slice(1), p.action) };
      if (head === 'if' || head === 'with' || head === 'range') {
        const parser = new Parser(toks.slice(1), p.action);
        const pipe = parser.pipe(head === 'range');
        const node = ctrl(head, pipe);
        nodes.push(node);
        continue;
      }
      if (head === 'end' || head === 'else') throw err(`unexpected {{${head}}}`);
      const parser = new Parser(toks, p.action);
      const pipe = parser.pipe(false);
      if (!parser.done()) throw err(`unexpected "${parser.peek()}" in "${p.action}"`);
      nodes.push({ t: 'out', p: pipe });
    }
    if (stopAt.length) throw err(`unexpected EOF: missing {{end}}`);
    return { nodes, stop: '', rest: null };
  };
  const ctrl = (head: 'if' | 'with' | 'range', pipe: Pipe): Node => {
    const body = block(['else', 'end']);
    let alt: Node[] = [];
    if (body.stop === 'else') {
      if (body.rest && !body.rest.done()) {
        // {{else if X}} chains: parse as a nested if in the else branch, sharing the {{end}}.
        const kw = body.rest.next();
        if (kw !== 'if' && kw !== 'with') throw err('unexpected tokens after else');
        alt = [ctrl(kw, body.rest.pipe(false))];
      } else {
        alt = block(['end']).nodes;
      }
    }
    return head === 'range' ? { t: 'range', p: pipe, body: body.nodes, alt } : { t: head, p: pipe, body: body.nodes, alt };
  };
  return block([]).nodes;
}

// ---------------------------------------------------------------- evaluation

interface Scope { dot: unknown; vars: Map<string, unknown> }

const NO_VALUE = Symbol('noValue');

function truthy(v: unknown): boolean {
  if (v === null || v === undefined || v === NO_VALUE || v === false || v === 0 || v === '') return false;
  if (Array.isArray(v)) return v.length > 0;
  if (typeof v === 'object') return Object.keys(v).length > 0 || !isMap(v);
  return true;
}

function field(v: unknown, name: string): unknown {
  if (v === null || v === undefined || v === NO_VALUE) throw err(`nil pointer evaluating .${name}`);
  if (isMap(v)) return name in v ? v[name] : NO_VALUE;
  if (typeof v === 'object' && !Array.isArray(v) && name in (v as object)) return (v as Record<string, unknown>)[name];
  throw err(`can't evaluate field ${name}`);
}

/** Go's fmt %v. */
export function goString(v: unknown): string {
  if (v === NO_VALUE || v === undefined) return '<no value>';
  if (v === null) return '<nil>';
  if (Array.isArray(v)) return `[${v.map(goString).join(' ')}]`;
  if (typeof v === 'object') {
    if (isMap(v)) return `map[${Object.keys(v).sort().map((k) => `${k}:${goString(v[k])}`).join(' ')}]`;
    return `{${Object.values(v as object).map(goString).join(' ')}}`;
  }
  return String(v);
}

function eqVal(a: unknown, b: unknown): boolean {
  return a === b || (typeof a === typeof b && typeof a !== 'object' && String(a) === String(b));
}

const FUNCS: Record<string, (...a: unknown[]) => unknown> = {
  index: (v, ...keys) => {
    let cur = v;
    for (const k of keys) {
      if (Array.isArray(cur)) {
        const i = Number(k);
        if (!Number.isInteger(i) || i < 0 || i >= cur.length) throw err(`index out of range: ${String(k)}`);
        cur = cur[i];
      } else if (cur && typeof cur === 'object') {
        const o = cur as Record<string, unknown>;
        cur = String(k) in o ? o[String(k)] : NO_VALUE;
      } else {
        throw err(`can't index item of type ${typeof cur}`);
      }
    }
    return cur;
  },
  json: (v) => JSON.stringify(v === NO_VALUE ? null : v),
  join: (list, sep) => {
    if (!Array.isArray(list)) throw err('join expects a list');
    return list.map(goString).join(String(sep ?? ''));
  },
  split: (s, sep) => String(s).split(String(sep)),
  upper: (s) => goString(s).toUpperCase(),
  lower: (s) => goString(s).toLowerCase(),
  title: (s) => goString(s).replace(/(^|[^\p{L}\p{N}])(\p{L})/gu, (_m, a: string, b: string) => a + b.toUpperCase()),
  len: (v) => {
    if (typeof v === 'string' || Array.isArray(v)) return v.length;
    if (v && typeof v === 'object') return Object.keys(v).length;
    throw err(`len of ${goString(v)}`);
  },
  printf: (fmt, ...args) => {
    let i = 0;
    return String(fmt).replace(/%([-+ 0#]*\d*)([sdvqtx%])/g, (_m, _flags: string, verb: string) => {
      if (verb === '%') return '%';
      const a = args[i++];
      if (verb === 'd') return String(Math.trunc(Number(a)));
      if (verb === 'q') return JSON.stringify(goString(a));
      if (verb === 'x') return typeof a === 'number' ? a.toString(16) : Buffer.from(goString(a)).toString('hex');
      return goString(a);
    });
  },
  print: (...a) => a.map(goString).join(''),
  println: (...a) => a.map(goString).join(' ') + '\n',
  eq: (a, ...bs) => bs.some((b) => eqVal(a, b)),
  ne: (a, b) => !eqVal(a, b),
  lt: (a, b) => (a as number) < (b as number),
  le: (a, b) => (a as number) <= (b as number),
  gt: (a, b) => (a as number) > (b as number),
  ge: (a, b) => (a as number) >= (b as number),
  not: (a) => !truthy(a),
  and: (...a) => { for (const x of a) if (!truthy(x)) return x; return a[a.length - 1]; },
  or: (...a) => { for (const x of a) if (truthy(x)) return x; return a[a.length - 1]; },
};

/** Evaluates an operand; a field holding a function is a Go method: called, with `args` if any. */
function evalOperand(o: Operand, s: Scope, args: unknown[] = []): unknown {
  if (o.k === 'lit') return o.v;
  if (o.k === 'fn') return FUNCS[o.name]?.();
  let v: unknown;
  if (o.base === 'dot') v = s.dot;
  else if (o.base === 'paren') v = evalPipe(o.inner as Pipe, s);
  else {
    if (!s.vars.has(o.name ?? '')) throw err(`undefined variable: $${o.name}`);
    v = s.vars.get(o.name ?? '');
  }
  for (const p of o.path) v = field(v, p);
  if (typeof v === 'function') return (v as (...a: unknown[]) => unknown)(...args);
  if (args.length) throw err(`can't give argument to non-function`);
  return v;
}

function evalPipe(p: Pipe, s: Scope): unknown {
  let piped: unknown = NO_VALUE;
  let first = true;
  for (const cmd of p.cmds) {
    const [head, ...rest] = cmd;
    if (!head) continue;
    if (head.k === 'fn') {
      const args = rest.map((o) => evalOperand(o, s));
      if (!first) args.push(piped);
      const fn = FUNCS[head.name];
      if (!fn) throw err(`function "${head.name}" not defined`);
      piped = fn(...args);
    } else {
      const args = rest.map((o) => evalOperand(o, s));
      if (!first) args.push(piped);
      piped = evalOperand(head, s, args);
    }
    first = false;
  }
  return piped;
}

function exec(nodes: Node[], s: Scope, out: string[]): void {
  for (const n of nodes) {
    switch (n.t) {
      case 'text': out.push(n.s); break;
      case 'out': {
        const v = evalPipe(n.p, s);
        out.push(goString(v));
        break;
      }
      case 'if': exec(truthy(evalPipe(n.p, s)) ? n.body : n.alt, s, out); break;
      case 'with': {
        const v = evalPipe(n.p, s);
        if (truthy(v)) exec(n.body, { dot: v, vars: s.vars }, out);
        else exec(n.alt, s, out);
        break;
      }
      case 'range': {
        const v = evalPipe(n.p, s);
        const entries: Array<[unknown, unknown]> = Array.isArray(v)
          ? v.map((x, i) => [i, x])
          : v && typeof v === 'object' ? Object.keys(v).sort().map((k) => [k, (v as Record<string, unknown>)[k]]) : [];
        if (v !== null && v !== undefined && v !== NO_VALUE && typeof v !== 'object') throw err(`range can't iterate over ${goString(v)}`);
        if (entries.length === 0) { exec(n.alt, s, out); break; }
        for (const [k, x] of entries) {
          const vars = new Map(s.vars);
          if (n.p.decl.length === 1) vars.set(n.p.decl[0] ?? '', x);
          if (n.p.decl.length === 2) { vars.set(n.p.decl[0] ?? '', k); vars.set(n.p.decl[1] ?? '', x); }
          exec(n.body, { dot: x, vars }, out);
        }
        break;
      }
    }
  }
}

export interface Template { render(data: unknown): string }

export function compile(src: string): Template {
  const nodes = parseTemplate(src);
  return {
    render(data: unknown): string {
      const out: string[] = [];
      exec(nodes, { dot: data, vars: new Map([['', data]]) }, out);
      return out.join('');
    },
  };
}
