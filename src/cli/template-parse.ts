// The parser of the Go text/template subset (template.ts runs what it makes): tokens, actions,
// pipelines and the block structure, with Go's errors and the bounds on hostile input.
import { err, parseNumber, unquote } from './gofmt.js';
import { FUNCS } from './gofuncs.js';

/** Bounds on hostile templates: source size, nesting (parse and parens), evaluation steps, output. */
export const LIMITS = { source: 64 * 1024, depth: 100, steps: 1_000_000, output: 16 * 1024 * 1024 };

export type Operand =
  | { k: 'field'; base: 'dot' | 'var' | 'paren'; name?: string; inner?: Pipe; path: string[] }
  | { k: 'fn'; name: string }
  | { k: 'lit'; v: unknown };
export interface Pipe {
  decl: string[];
  assign: boolean;
  cmds: Operand[][];
}
export type Node =
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
