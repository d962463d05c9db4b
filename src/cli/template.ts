// A subset of Go's text/template, enough for Docker-style `--format` strings, behaving as Go
// does for what it supports: fields and nested fields, `$` and declared variables (:= and =),
// parenthesised pipelines, if/else if/with/else with/range (over lists, maps and an int, with
// break and continue), comments, trim markers, Go's literals, and the builtins and Docker
// functions listed in FUNCS. Not supported: define/template/block, call, html/js/urlquery.
// Any input gives a result or a template error: nesting, work and output are bounded.
import { NO_VALUE, err, goMap, goString, isMap, kind, parseNumber, unquote } from './gofmt.js';
import { FUNCS, truthy, type Fn } from './gofuncs.js';

export { goMap, goString };

/** Bounds on hostile templates: source size, nesting (parse and parens), evaluation steps, output. */
export const LIMITS = { source: 64 * 1024, depth: 100, steps: 1_000_000, output: 16 * 1024 * 1024 };

type Operand =
  | { k: 'field'; base: 'dot' | 'var' | 'paren'; name?: string; inner?: Pipe; path: string[] }
  | { k: 'fn'; name: string }
  | { k: 'lit'; v: unknown };
interface Pipe {
  decl: string[];
  assign: boolean;
  cmds: Operand[][];
}
type Node =
  | { t: 'text'; s: string }
  | { t: 'out'; p: Pipe }
  | { t: 'break' | 'continue' }
  | { t: 'if' | 'with'; p: Pipe; body: Node[]; alt: Node[] }
  | { t: 'range'; p: Pipe; body: Node[]; alt: Node[] };

// ---------------------------------------------------------------- lexing

/** Go's space in a template: trim markers and token separators. */
const SPACE = /[ \t\r\n]/;
const show = (src: string) => JSON.stringify(src.length > 60 ? `${src.slice(0, 60)}…` : src);

function tokenize(src: string): string[] {
  const out: string[] = [];
  let i = 0;
  while (i < src.length) {
    const c = src[i] ?? '';
    if (SPACE.test(c)) {
      i++;
      continue;
    }
    if (c === '"' || c === '`' || c === "'") {
      let j = i + 1;
      while (j < src.length && src[j] !== c) j += src[j] === '\\' && c !== '`' ? 2 : 1;
      if (j >= src.length) throw err(`unterminated ${c === "'" ? 'character constant' : 'string'} in ${show(src)}`);
      out.push(src.slice(i, j + 1));
      i = j + 1;
      continue;
    }
    if (c === ':' && src[i + 1] === '=') {
      out.push(':=');
      i += 2;
      continue;
    }
    if ('()|,='.includes(c)) {
      out.push(c);
      i++;
      continue;
    }
    let j = i;
    while (j < src.length && !/[ \t\r\n()|,="`']/.test(src[j] ?? '') && !(src[j] === ':' && src[j + 1] === '=')) j++;
    if (j === i) throw err(`unexpected ${show(c)} in ${show(src)}`);
    out.push(src.slice(i, j));
    i = j;
  }
  return out;
}

// ---------------------------------------------------------------- parsing

const IDENT = /^[A-Za-z_][A-Za-z0-9_]*$/;

class Parser {
  private pos = 0;
  constructor(
    private readonly toks: string[],
    private readonly src: string,
    private readonly depth: number,
  ) {}

  done(): boolean {
    return this.pos >= this.toks.length;
  }
  peek(): string | undefined {
    return this.toks[this.pos];
  }
  next(): string | undefined {
    return this.toks[this.pos++];
  }

  /** A pipeline, with "$x :=" / "$x =" in front (range: "$k, $v :="). */
  pipe(maxVars: number, depth = this.depth): Pipe {
    if (depth > LIMITS.depth) throw err(`max expression depth exceeded in ${show(this.src)}`);
    const decl: string[] = [];
    let assign = false;
    const save = this.pos;
    const names: string[] = [];
    while (maxVars > 0 && /^\$\w*$/.test(this.peek() ?? '')) {
      names.push(this.next() ?? '');
      if (this.peek() === ',' && names.length < maxVars) {
        this.next();
        continue;
      }
      break;
    }
    const op = this.peek();
    if (names.length && (op === ':=' || (op === '=' && names.length === 1))) {
      this.next();
      assign = op === '=';
      decl.push(...names.map((n) => n.slice(1)));
    } else {
      this.pos = save;
    }
    const cmds: Operand[][] = [];
    for (;;) {
      const cmd: Operand[] = [];
      while (!this.done() && this.peek() !== '|' && this.peek() !== ')') cmd.push(this.operand(depth));
      if (cmd.length === 0) throw err(`missing value for command in ${show(this.src)}`);
      cmds.push(cmd);
      if (this.peek() !== '|') break;
      this.next();
    }
    return { decl, assign, cmds };
  }

  operand(depth: number): Operand {
    const t = this.next() ?? '';
    const path = (): string[] => {
      const out: string[] = [];
      while (this.peek()?.startsWith('.')) out.push(...fields(this.next() ?? ''));
      return out;
    };
    const fields = (x: string): string[] => {
      const names = x.slice(1).split('.');
      if (!names.every((n) => IDENT.test(n))) throw err(`bad field ${show(x)} in ${show(this.src)}`);
      return names;
    };
    if (t === '(') {
      const inner = this.pipe(0, depth + 1);
      if (this.next() !== ')') throw err(`unclosed left paren in ${show(this.src)}`);
      return { k: 'field', base: 'paren', inner, path: path() };
    }
    if (t.startsWith('"')) return { k: 'lit', v: unquote(t) };
    if (t.startsWith('`')) return { k: 'lit', v: t.slice(1, -1).replace(/\r/g, '') };
    const num = parseNumber(t);
    if (num !== null) return { k: 'lit', v: num };
    if (t === 'true' || t === 'false') return { k: 'lit', v: t === 'true' };
    if (t === 'nil') return { k: 'lit', v: null };
    if (t === '.') return { k: 'field', base: 'dot', path: [] };
    if (t.startsWith('.')) return { k: 'field', base: 'dot', path: fields(t) };
    if (t.startsWith('$')) {
      const [name = '', ...rest] = t.slice(1).split('.');
      if (!/^\w*$/.test(name)) throw err(`bad variable ${show(t)}`);
      return { k: 'field', base: 'var', name, path: rest.length ? fields(`.${rest.join('.')}`) : [] };
    }
    if (IDENT.test(t)) {
      if (!Object.hasOwn(FUNCS, t)) throw err(`function ${show(t)} not defined`);
      return { k: 'fn', name: t };
    }
    throw err(`unexpected ${show(t)} in ${show(this.src)}`);
  }
}

type Part = { text: string } | { action: string };

/**
 * Splits text from actions, honouring {{- and -}} (a dash with a space next to it) and
 * comments, which as in Go start and end right at the delimiters (or their trim markers).
 */
function split(src: string): Part[] {
  const parts: Part[] = [];
  let i = 0;
  while (i < src.length) {
    const open = src.indexOf('{{', i);
    if (open < 0) {
      parts.push({ text: src.slice(i) });
      break;
    }
    let text = src.slice(i, open);
    let start = open + 2;
    const trimLeft = src[start] === '-' && SPACE.test(src[start + 1] ?? '');
    if (trimLeft) {
      text = text.replace(/[ \t\r\n]+$/, '');
      start += 2;
    }
    parts.push({ text });
    let after: number;
    let trimRight: boolean;
    if (src.startsWith('/*', start)) {
      const end = src.indexOf('*/', start + 2);
      if (end < 0) throw err('unclosed comment');
      const m = /^([ \t\r\n]-)?\}\}/.exec(src.slice(end + 2, end + 6));
      if (!m) throw err('comment ends before closing delimiter');
      parts.push({ action: '/*' });
      trimRight = m[1] !== undefined;
      after = end + 2 + m[0].length;
    } else {
      let j = start;
      let quote = '';
      while (j < src.length) {
        const c = src[j];
        if (quote) {
          if (c === '\\' && quote !== '`') j++;
          else if (c === quote) quote = '';
        } else if (c === '"' || c === '`' || c === "'") quote = c;
        else if (c === '}' && src[j + 1] === '}') break;
        j++;
      }
      if (j >= src.length) throw err(`unclosed action in ${show(src.slice(open))}`);
      let body = src.slice(start, j);
      trimRight = /[ \t\r\n]-$/.test(body);
      if (trimRight) body = body.slice(0, -1);
      parts.push({ action: body.trim() });
      after = j + 2;
    }
    if (trimRight) while (after < src.length && SPACE.test(src[after] ?? '')) after++;
    i = after;
  }
  return parts;
}

export function parseTemplate(src: string): Node[] {
  if (src.length > LIMITS.source) throw err(`template longer than ${LIMITS.source} characters`);
  const parts = split(src);
  let k = 0;
  const block = (
    stopAt: string[],
    depth: number,
    inRange: boolean,
  ): { nodes: Node[]; stop: string; rest: Parser | null } => {
    if (depth > LIMITS.depth) throw err(`blocks nested deeper than ${LIMITS.depth}`);
    const nodes: Node[] = [];
    while (k < parts.length) {
      const p = parts[k++];
      if (!p) break;
      if ('text' in p) {
        if (p.text) nodes.push({ t: 'text', s: p.text });
        continue;
      }
      if (p.action === '/*') continue;
      const toks = tokenize(p.action);
      const head = toks[0] ?? '';
      if (stopAt.includes(head)) return { nodes, stop: head, rest: new Parser(toks.slice(1), p.action, depth) };
      if (head === 'if' || head === 'with' || head === 'range') {
        nodes.push(ctrl(head, new Parser(toks.slice(1), p.action, depth), depth, inRange));
        continue;
      }
      if (head === 'break' || head === 'continue') {
        if (!inRange) throw err(`{{${head}}} outside {{range}}`);
        if (toks.length > 1) throw err(`unexpected ${show(toks[1] ?? '')} in {{${head}}}`);
        nodes.push({ t: head });
        continue;
      }
      if (head === 'end' || head === 'else') throw err(`unexpected {{${head}}}`);
      if (['define', 'template', 'block'].includes(head)) throw err(`{{${head}}} is not supported`);
      const parser = new Parser(toks, p.action, depth);
      const pipe = parser.pipe(1);
      if (!parser.done()) throw err(`unexpected ${show(parser.peek() ?? '')} in ${show(p.action)}`);
      nodes.push({ t: 'out', p: pipe });
    }
    if (stopAt.length) throw err('unexpected EOF: missing {{end}}');
    return { nodes, stop: '', rest: null };
  };
  const ctrl = (head: 'if' | 'with' | 'range', parser: Parser, depth: number, inRange: boolean): Node => {
    const pipe = parser.pipe(head === 'range' ? 2 : 1);
    if (!parser.done()) throw err(`unexpected ${show(parser.peek() ?? '')} in {{${head}}}`);
    const loop = inRange || head === 'range';
    const body = block(['else', 'end'], depth + 1, loop);
    if (body.rest && !body.rest.done() && body.stop === 'end') throw err('unexpected tokens after end');
    let alt: Node[] = [];
    if (body.stop === 'else') {
      if (body.rest && !body.rest.done()) {
        // {{else if X}} / {{else with X}} chain: a nested block in the else branch, sharing the {{end}}.
        const kw = body.rest.next();
        if (head === 'range' || (kw !== 'if' && kw !== 'with')) throw err('unexpected tokens after else');
        alt = [ctrl(kw, body.rest, depth + 1, inRange)];
      } else {
        const rest = block(['end'], depth + 1, inRange);
        if (rest.rest && !rest.rest.done()) throw err('unexpected tokens after end');
        alt = rest.nodes;
      }
    }
    return head === 'range'
      ? { t: 'range', p: pipe, body: body.nodes, alt }
      : { t: head, p: pipe, body: body.nodes, alt };
  };
  return block([], 0, false).nodes;
}

// ---------------------------------------------------------------- evaluation

/** Variables in scope: each block opens a frame, dropped at its {{end}} (Go's scoping). */
class Vars {
  private readonly frames: Array<Map<string, unknown>>;
  constructor(parent?: Vars) {
    this.frames = parent ? [...parent.frames, new Map()] : [new Map()];
  }
  declare(name: string, v: unknown): void {
    this.frames[this.frames.length - 1]?.set(name, v);
  }
  assign(name: string, v: unknown): void {
    const f = [...this.frames].reverse().find((m) => m.has(name));
    if (!f) throw err(`undefined variable: $${name}`);
    f.set(name, v);
  }
  get(name: string): unknown {
    for (let i = this.frames.length - 1; i >= 0; i--) if (this.frames[i]?.has(name)) return this.frames[i]?.get(name);
    throw err(`undefined variable: $${name}`);
  }
}

interface Budget {
  steps: number;
  output: number;
}
interface Scope {
  dot: unknown;
  vars: Vars;
  budget: Budget;
}

function step(s: Scope): void {
  if (++s.budget.steps > LIMITS.steps) throw err(`evaluation took more than ${LIMITS.steps} steps`);
}

/** A field of a struct or a key of a map; never anything JavaScript objects inherit. */
function has(o: object, name: string): boolean {
  return Object.hasOwn(o, name) || (!(name in Object.prototype) && name in o);
}

function field(v: unknown, name: string): unknown {
  if (v === NO_VALUE) return NO_VALUE; // Go: a field of a missing key is missing too
  if (v === null || v === undefined) throw err(`nil pointer evaluating .${name}`);
  if (isMap(v)) return Object.hasOwn(v, name) ? v[name] : NO_VALUE;
  if (typeof v === 'object' && !Array.isArray(v) && has(v, name)) return (v as Record<string, unknown>)[name];
  throw err(`can't evaluate field ${name} in type ${kind(v)}`);
}

/** Calls a function with lazily evaluated arguments: and/or stop at the first that decides, as Go 1.18+. */
function evalCall(name: string, args: Array<() => unknown>): unknown {
  const f = FUNCS[name] as Fn;
  if (args.length < f.min || args.length > f.max) {
    throw err(
      `wrong number of args for ${name}: want ${f.max === Infinity ? `at least ${f.min}` : f.min} got ${args.length}`,
    );
  }
  if (name === 'and' || name === 'or') {
    let v: unknown;
    for (const a of args) {
      v = a();
      if (truthy(v) === (name === 'or')) return v;
    }
    return v;
  }
  return f.f(...args.map((a) => a()));
}

/** Evaluates an operand; a field holding a function is a Go method: called, with `args` if any. */
function evalOperand(o: Operand, s: Scope, args: Array<() => unknown> = []): unknown {
  step(s);
  if (o.k === 'lit') {
    if (args.length) throw err(`can't give argument to non-function ${goString(o.v)}`);
    return o.v;
  }
  if (o.k === 'fn') return evalCall(o.name, args);
  let v: unknown;
  if (o.base === 'dot') v = s.dot;
  else if (o.base === 'paren') v = evalPipe(o.inner as Pipe, s);
  else v = s.vars.get(o.name ?? '');
  for (const p of o.path) {
    v = field(v, p);
    if (typeof v === 'function' && p !== o.path[o.path.length - 1]) v = v();
  }
  if (typeof v === 'function' && o.path.length) return (v as (...a: unknown[]) => unknown)(...args.map((a) => a()));
  if (args.length) throw err(`can't give argument to non-function ${goString(v)}`);
  return v;
}

function evalPipe(p: Pipe, s: Scope): unknown {
  let piped: unknown;
  p.cmds.forEach((cmd, i) => {
    const [head, ...rest] = cmd;
    if (!head) return;
    const args = rest.map((o) => () => evalOperand(o, s));
    if (i > 0) {
      const prev = piped;
      args.push(() => prev);
    }
    piped = evalOperand(head, s, args);
  });
  const [name] = p.decl;
  if (name !== undefined && p.decl.length === 1) {
    if (p.assign) s.vars.assign(name, piped);
    else s.vars.declare(name, piped);
  }
  return piped;
}

type Flow = 'break' | 'continue' | undefined;

function emit(s: Scope, out: string[], text: string): void {
  s.budget.output += text.length;
  if (s.budget.output > LIMITS.output) throw err(`output longer than ${LIMITS.output} characters`);
  out.push(text);
}

function exec(nodes: Node[], s: Scope, out: string[]): Flow {
  for (const n of nodes) {
    step(s);
    switch (n.t) {
      case 'text':
        emit(s, out, n.s);
        break;
      case 'break':
      case 'continue':
        return n.t;
      case 'out': {
        const v = evalPipe(n.p, s);
        if (!n.p.decl.length) emit(s, out, goString(v)); // a declaration prints nothing
        break;
      }
      case 'if':
      case 'with': {
        const inner: Scope = { ...s, vars: new Vars(s.vars) };
        const v = evalPipe(n.p, inner);
        const flow = truthy(v)
          ? exec(n.body, n.t === 'with' ? { ...inner, dot: v } : inner, out)
          : exec(n.alt, inner, out);
        if (flow) return flow;
        break;
      }
      case 'range': {
        const inner: Scope = { ...s, vars: new Vars(s.vars) };
        const v = evalPipe({ ...n.p, decl: [] }, inner);
        const k = kind(v);
        let entries: Array<[unknown, unknown]>;
        if (k === 'slice') entries = (v as unknown[]).map((x, i) => [i, x]);
        else if (k === 'map' || (k === 'struct' && isMap(v)))
          entries = Object.keys(v as object)
            .sort()
            .map((key) => [key, (v as Record<string, unknown>)[key]]);
        else if (k === 'int') {
          if (n.p.decl.length > 1)
            throw err(`can't use $${n.p.decl[0]}, $${n.p.decl[1]} to iterate over more than one variable`);
          entries = [];
          for (let i = 0; i < (v as number); i++) {
            step(s);
            entries.push([i, i]);
          }
        } else if (k === 'invalid' || k === 'nil') entries = [];
        else throw err(`range can't iterate over ${goString(v)}`);
        if (entries.length === 0) {
          exec(n.alt, inner, out);
          break;
        }
        for (const [key, x] of entries) {
          const it: Scope = { ...inner, dot: x, vars: new Vars(inner.vars) };
          if (n.p.decl.length === 1) it.vars.declare(n.p.decl[0] ?? '', x);
          if (n.p.decl.length === 2) {
            it.vars.declare(n.p.decl[0] ?? '', key);
            it.vars.declare(n.p.decl[1] ?? '', x);
          }
          if (exec(n.body, it, out) === 'break') break;
        }
        break;
      }
    }
  }
  return undefined;
}

export interface Template {
  render(data: unknown): string;
}

/** `{{.Field}}` and nothing else inside the braces (ls's default tables). */
const FIELD_ACTION = /\{\{\.([A-Za-z_]\w*)\}\}/;

export function compile(src: string): Template {
  // Text and plain fields alone: each row is the text with the fields' strings put in, without
  // the interpreter (its parse and first run are most of a default `ls`). A field that is not
  // a string there (a number, a method, a missing key) sends that row through the interpreter.
  const parts = src.length <= LIMITS.source ? src.split(FIELD_ACTION) : [];
  // Text holds no "{{", and none ends in "{" before an action: "{{{.A}}" is Go's parse error.
  const plain =
    parts.length > 1 &&
    parts.every((p, i) => i % 2 === 1 || (!p.includes('{{') && (i === parts.length - 1 || !p.endsWith('{'))));
  return plain ? plainFields(src, parts) : interpreted(src);
}

function plainFields(src: string, parts: string[]): Template {
  let full: Template | undefined;
  return {
    render(data: unknown): string {
      let out = '';
      for (let i = 0; i < parts.length; i++) {
        const p = parts[i] as string;
        if (i % 2 === 0) {
          out += p;
          continue;
        }
        const v = typeof data === 'object' && data !== null ? field(data, p) : undefined;
        if (typeof v !== 'string') return (full ??= interpreted(src)).render(data);
        out += v;
      }
      // Past the bound, the interpreter raises its error.
      return out.length > LIMITS.output ? (full ??= interpreted(src)).render(data) : out;
    },
  };
}

/** The template run by the interpreter, whatever it holds (exported for the tests of the fast path). */
export function interpreted(src: string): Template {
  const nodes = parseTemplate(src);
  return {
    render(data: unknown): string {
      const out: string[] = [];
      const vars = new Vars();
      vars.declare('', data);
      exec(nodes, { dot: data, vars, budget: { steps: 0, output: 0 } }, out);
      return out.join('');
    },
  };
}
