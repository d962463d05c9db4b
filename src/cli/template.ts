// A subset of Go's text/template, enough for Docker-style `--format` strings, behaving as Go
// does for what it supports: fields and nested fields, `$` and declared variables (:= and =),
// parenthesised pipelines, if/else if/with/else with/range (over lists, maps and an int, with
// break and continue), comments, trim markers, Go's literals, and the builtins and Docker
// functions listed in FUNCS. Not supported: define/template/block, call, html/js/urlquery.
// Any input gives a result or a template error: nesting, work and output are bounded.
import { err, goMap, goString, isMap, kind, NO_VALUE } from './gofmt.js';
import { FUNCS, truthy, type Fn } from './gofuncs.js';
import { LIMITS, parseTemplate, type Node, type Operand, type Pipe } from './template-parse.js';

export { goMap, goString, LIMITS };

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
  /** A template of text and `{{.Field}}` alone: the fields it prints. */
  readonly fields?: string[];
  /** Of those, one of fields joined by tabs and nothing else (`{{.A}}\t{{.B}}`): the fields, in order. */
  readonly columns?: string[];
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
  const slow = (data: unknown) => (full ??= interpreted(src)).render(data);
  const fields = parts.filter((_, i) => i % 2 === 1);
  const tabbed = parts.every((p, i) => i % 2 === 1 || p === (i === 0 || i === parts.length - 1 ? '' : '\t'));
  return {
    fields,
    ...(tabbed ? { columns: fields } : {}),
    render(data: unknown): string {
      if (typeof data !== 'object' || data === null) return slow(data);
      // A string field is what the interpreter would print too; anything else goes to it.
      let out = parts[0] as string;
      for (let i = 1; i < parts.length; i += 2) {
        const name = parts[i] as string;
        const v = has(data, name) ? (data as Record<string, unknown>)[name] : undefined;
        if (typeof v !== 'string') return slow(data);
        out += v + (parts[i + 1] as string);
      }
      // Past the bound, the interpreter raises its error.
      return out.length > LIMITS.output ? slow(data) : out;
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
