// The Go-template parser and renderer by property (issue 18): any input renders to a string or
// fails with a template error (InvalidArgumentError), never another exception, within bounds
// of time and output; trim markers and comments behave as Go's around any text.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { compile, goMap } from '../../src/cli/template.js';
import { check, fromVocab } from '../helpers/prop.js';

const data = {
  Name: 'web',
  MTU: 1500,
  Internal: false,
  Nil: null,
  List: ['x', 'y'],
  Empty: [],
  Labels: goMap({ env: 'prod', '': 'e' }),
  Options: goMap({}),
  Containers: goMap({ a: { Name: 'a', IPv4Address: '10.0.0.2/24' } }, { Name: '', IPv4Address: '' }),
  IPAM: { Config: [{ Subnet: '10.0.0.0/24', Gateway: '10.0.0.1' }] },
  Label: (k: unknown) => String(k),
};

const VOCAB = [
  '{{',
  '}}',
  '{{- ',
  ' -}}',
  ' ',
  '\n',
  '.',
  '.Name',
  '.Labels',
  '.Labels.env',
  '.List',
  '.Nil',
  '.Containers',
  '.IPAM.Config',
  '.Label',
  '.constructor',
  '.__proto__',
  '$',
  '$x',
  '$y',
  ':=',
  '=',
  ',',
  '(',
  ')',
  '|',
  'if ',
  'else ',
  'else',
  'end',
  'range ',
  'with ',
  'break',
  'continue',
  'index ',
  'slice ',
  'len ',
  'printf ',
  'print ',
  'println ',
  'json ',
  'join ',
  'split ',
  'upper ',
  'title ',
  'eq ',
  'ne ',
  'lt ',
  'and ',
  'or ',
  'not ',
  '"%s"',
  '"%d"',
  '"%5.2f"',
  '"%*d"',
  '"%!"',
  '"a"',
  '"\\x4',
  '"\\u00e9"',
  '"\\q"',
  '`raw`',
  "'c'",
  "'",
  '"',
  '`',
  '0',
  '1',
  '3',
  '-1',
  '1.5',
  '1e3',
  '0x1F',
  '1_0',
  '99999999999999999999',
  'nil',
  'true',
  '/*',
  '*/',
  'define ',
  'template ',
  '}',
  '{',
];
const tpl = fromVocab(VOCAB, 40);

function renderOrError(src: string): string | null {
  try {
    return compile(src).render(data);
  } catch (e) {
    assert.equal(
      (e as Error).name,
      'InvalidArgumentError',
      `${String(e)} for ${JSON.stringify(src)}\n${(e as Error).stack}`,
    );
    assert.match((e as Error).message, /^template: /);
    return null;
  }
}

describe('Go templates by property', () => {
  it('any input: a string or a template error, quickly', () => {
    let slowest = 0;
    check(
      fc.property(tpl, (src) => {
        const t0 = performance.now();
        const out = renderOrError(src);
        slowest = Math.max(slowest, performance.now() - t0);
        if (out !== null) assert.equal(typeof out, 'string');
      }),
      5000,
    );
    assert.ok(slowest < 2000, `slowest case ${slowest.toFixed(0)} ms`);
  });

  it("text without delimiters renders as itself; {{- and -}} trim exactly Go's spaces", () => {
    const text = fc.string({ unit: 'binary', maxLength: 30 }).filter((s) => !s.includes('{{'));
    check(
      fc.property(text, text, (a, b) => {
        assert.equal(renderOrError(a), a);
        const trimmed = renderOrError(`${a}{{- "x" -}}${b}`);
        if (!a.endsWith('{') && !b.startsWith('}'))
          assert.equal(trimmed, `${a.replace(/[ \t\r\n]+$/, '')}x${b.replace(/^[ \t\r\n]+/, '')}`);
        if (!a.endsWith('{') && !b.includes('*/')) assert.equal(renderOrError(`${a}{{/*${b}*/}}`), a);
      }),
      3000,
    );
  });

  it('a string literal prints as itself (Go quoting of any text)', () => {
    check(
      fc.property(fc.string({ unit: 'grapheme', maxLength: 20 }), (s) => {
        const lit = `"${[...s].map((c) => (c === '"' || c === '\\' ? `\\${c}` : c === '\n' ? '\\n' : c)).join('')}"`;
        assert.equal(renderOrError(`{{${lit}}}`), s);
        assert.equal(renderOrError(`{{printf "%s" ${lit}}}`), s);
        assert.equal(renderOrError(`{{len ${lit}}}`), String(Buffer.byteLength(s)));
      }),
      3000,
    );
  });
});
