// Go's text/template, construct by construct: each row is a template and what Go (with the
// data shaped as Docker's) prints for it; then the errors Go raises, and netctl's own bounds.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { LIMITS, compile, goMap, interpreted } from '../../src/cli/template.js';

const endpointZero = { Name: '', EndpointID: '', MacAddress: '', IPv4Address: '', IPv6Address: '' };
const data = {
  Name: 'web',
  Id: 'abc',
  IPAM: {
    Driver: 'default',
    Options: goMap({}),
    Config: [{ Subnet: '10.1.0.0/24', IPRange: '', Gateway: '10.1.0.1', AuxiliaryAddresses: goMap({}) }],
  },
  Containers: goMap(
    { id2: { Name: 'b', IPv4Address: '10.1.0.3/24' }, id1: { Name: 'a', IPv4Address: '10.1.0.2/24' } },
    endpointZero,
  ),
  Options: goMap({ 'com.docker.network.bridge.name': 'br0' }),
  Labels: goMap({ env: 'prod', team: 'net' }),
  Internal: false,
  MTU: 1500,
  List: ['x', 'y'],
  Empty: [] as string[],
  Nil: null,
  Label: (k: unknown) => (k === 'env' ? 'prod' : ''),
};

describe('Go templates: template → what Go prints', () => {
  const cases: Array<[string, string]> = [
    // fields, maps, index (a missing key: the zero value; a missing field chain: <no value>)
    ['{{.Name}}', 'web'],
    ['{{.IPAM.Config}}', '[{10.1.0.0/24  10.1.0.1 map[]}]'],
    ['{{(index .IPAM.Config 0).Subnet}}', '10.1.0.0/24'],
    ['{{index .Labels "env"}}', 'prod'],
    ['{{index .Options "missing"}}', ''],
    ['{{index .Labels "nope"}}|', '|'],
    ['{{index .Containers "nope"}}', '{    }'],
    ['{{(index .Containers "nope").Name}}|', '|'],
    ['{{.Labels.missing}}', '<no value>'],
    ['{{.Labels.missing.deeper}}', '<no value>'],
    ['{{.Labels.team}}', 'net'],
    ['{{.Labels}}', 'map[env:prod team:net]'],
    ['{{.Options}}', 'map[com.docker.network.bridge.name:br0]'],
    ['{{.Internal}} {{.Nil}} {{.MTU}}', 'false <nil> 1500'],
    ['{{.Label "env"}}', 'prod'],
    ['{{index "abc" 1}}', '98'],
    ['{{slice "hello" 1 3}} {{slice .List 1}} {{slice .List 0 1}}', 'el [y] [x]'],
    // range, with break/continue, over an int, with else
    ['{{range .Containers}}{{.Name}} {{end}}', 'a b '],
    ['{{range $id, $c := .Containers}}{{$id}}={{$c.IPv4Address}};{{end}}', 'id1=10.1.0.2/24;id2=10.1.0.3/24;'],
    ['{{range $i, $v := .List}}{{$i}}={{$v}} {{end}}', '0=x 1=y '],
    ['{{range $v := .List}}{{$v}}{{end}}', 'xy'],
    ['{{range .IPAM.Config}}{{.Gateway}}{{else}}none{{end}}', '10.1.0.1'],
    ['{{range .Labels.missing}}x{{else}}none{{end}}', 'none'],
    ['{{range .Empty}}x{{else}}empty{{end}}', 'empty'],
    ['{{range .List}}{{if eq . "y"}}{{break}}{{end}}{{.}}{{end}}', 'x'],
    ['{{range .List}}{{if eq . "x"}}{{continue}}{{end}}{{.}}{{end}}', 'y'],
    ['{{range 3}}{{.}}{{end}}', '012'],
    ['{{range $i := 2}}{{$i}}{{end}}', '01'],
    // if / else if / with / else with
    ['{{if eq .Name "web"}}yes{{else}}no{{end}}', 'yes'],
    ['{{if ne .Name "web"}}yes{{else if .Internal}}int{{else}}ext{{end}}', 'ext'],
    ['{{with .IPAM}}{{.Driver}}{{end}}', 'default'],
    ['{{with .Labels.missing}}x{{else with .Name}}{{.}}{{end}}', 'web'],
    ['{{with .Empty}}x{{else}}empty{{end}}', 'empty'],
    ['{{if .Containers}}has{{end}}{{if .IPAM.Options}}opts{{end}}', 'has'],
    // variables: $, :=, =, scope to {{end}}
    ['{{$.Name}}', 'web'],
    ['{{$x := .Name}}{{$x}}-{{$x = "new"}}{{$x}}', 'web-new'],
    ['{{$x := 1}}{{if true}}{{$x = 2}}{{end}}{{$x}}', '2'],
    ['{{$x := 1}}{{if true}}{{$x := 2}}{{$x}}{{end}}{{$x}}', '21'],
    ['{{range .List}}{{$.Name}}{{end}}', 'webweb'],
    // comparisons and logic (and/or return an argument and stop early, as Go 1.18+)
    ['{{if and .Name (not .Internal)}}ok{{end}}', 'ok'],
    ['{{if or .Internal .Name}}ok{{end}}', 'ok'],
    ['{{if and .Nil .Nil.Foo}}x{{else}}short{{end}}', 'short'],
    ['{{or .Internal "fallback"}} {{and 1 0 2}} {{or 0 ""}}|', 'fallback 0 |'],
    ['{{not .Empty}} {{not .List}}', 'true false'],
    ['{{eq .MTU 1500}} {{eq .Name "x" "web"}} {{ne 1 2}}', 'true true true'],
    ['{{eq .Labels.missing "x"}}', 'false'],
    ['{{lt 1 2}} {{lt "a" "b"}} {{ge 2 2}} {{gt 1.5 2.5}} {{le 3 2}}', 'true true true false false'],
    // literals
    [
      "{{1.5}} {{1e3}} {{1e6}} {{0x1F}} {{1_000}} {{0o17}} {{0b101}} {{017}} {{'a'}} {{-3}} {{+4}}",
      '1.5 1000 1e+06 31 1000 15 5 15 97 -3 4',
    ],
    ['{{0.00001}} {{123456.0}} {{1234567.0}}', '1e-05 123456 1.234567e+06'],
    ['{{"tab\\there"}}|{{`raw\\n`}}|{{"\\x41\\u00e9\\101"}}', 'tab\there|raw\\n|AéA'],
    ['{{true}} {{false}}', 'true false'],
    // functions
    ['{{len .Containers}} {{len .List}} {{len "é"}}', '2 2 2'],
    ['{{json .Labels}}', '{"env":"prod","team":"net"}'],
    ['{{json .List}} {{json .Labels.missing}}', '["x","y"] null'],
    ['{{join .List ","}}', 'x,y'],
    ['{{split "a,b" ","}}', '[a b]'],
    ['{{upper .Name}} {{.Name | upper}} {{title "hello world"}} {{lower "ABC"}}', 'WEB WEB Hello World abc'],
    ['{{title "hello_world foo-bar"}}', 'Hello_world Foo-Bar'],
    ['{{print 1 2 "a" 3 "b" "c"}}', '1 2a3bc'],
    ['{{println "a" 1}}', 'a 1\n'],
    ['{{print .Labels.missing}}', '<nil>'],
    // printf, as fmt.Sprintf
    ['{{printf "%s has %d" .Name 3}}', 'web has 3'],
    ['{{.Name | printf "%s!"}}', 'web!'],
    ['{{printf "%v" .Labels.missing}}', '<nil>'],
    ['{{printf "%5s|%-5s|%05d|%x|%X|%q|%t" "ab" "cd" 42 255 255 "hi" true}}', '   ab|cd   |00042|ff|FF|"hi"|true'],
    ['{{printf "%.2f|%e|%6.2f|%+d|% d|%g" 3.14159 1234.5 3.14159 5 5 0.5}}', '3.14|1.234500e+03|  3.14|+5| 5|0.5'],
    ['{{printf "%#x %#o %b %c %%" 255 8 5 65}}', '0xff 010 101 A %'],
    ['{{printf "%T %T %T %T" 1 "a" 1.5 .List}}', 'int string float64 []interface {}'],
    ['{{printf "%q" "a\\tb\\a"}}', '"a\\tb\\a"'],
    ['{{printf "%v %s" .List .Labels}}', '[x y] map[env:prod team:net]'],
    ['{{printf "%.1s" "abc"}}', 'a'],
    ['{{printf "%d" "x"}}', '%!d(string=x)'],
    ['{{printf "%s %s" "a"}}', 'a %!s(MISSING)'],
    ['{{printf "%s" "a" "b"}}', 'a%!(EXTRA string=b)'],
    ['{{printf "%d" 1.5}}', '%!d(float64=1.5)'],
    // text, trim markers, comments
    ['a {{- " b " -}} c', 'a b c'],
    ['a  {{- "b"}}  {{"c" -}}  d', 'ab  cd'],
    ['{{/* comment */}}a{{- /* c2 */ -}} b', 'ab'],
    ['{{/* a {{.Nope}} }} comment */}}x', 'x'],
    ['{{-3}}', '-3'],
    ['no actions at all', 'no actions at all'],
  ];
  for (const [tpl, want] of cases) it(tpl, () => assert.equal(compile(tpl).render(data), want));
});

describe('Go templates: errors, as Go raises them, and netctl bounds', () => {
  const errors: Array<[string, RegExp]> = [
    ['{{.Nope}}', /can't evaluate field Nope/],
    ['{{frobnicate .Name}}', /function "frobnicate" not defined/],
    ['{{if .Name}}x', /missing \{\{end\}\}/],
    ['{{.Name', /unclosed action/],
    ['{{end}}', /unexpected \{\{end\}\}/],
    ['{{}}', /missing value for command/],
    ['{{index .List 5}}', /index out of range: 5/],
    ['{{index .Labels 1}}', /value has type int; should be string/],
    ['{{index .Nil 1}}', /can't index item of type/],
    ['{{eq .Name 1}}', /incompatible types for comparison/],
    ['{{eq 1 1.0}}', /incompatible types for comparison/],
    ['{{eq .List .List}}', /non-comparable type/],
    ['{{lt true false}}', /invalid type for comparison/],
    ['{{upper 1}}', /wrong type for value; expected string; got int/],
    ['{{upper .Labels.missing}}', /wrong type for value; expected string/],
    ['{{len 3}}', /len of type int/],
    ['{{upper}}', /wrong number of args for upper: want 1 got 0/],
    ['{{ne 1}}', /wrong number of args for ne/],
    ['{{break}}', /\{\{break\}\} outside \{\{range\}\}/],
    ['{{$x}}', /undefined variable: \$x/],
    ['{{$x = 1}}', /undefined variable: \$x/],
    ['{{range 3}}{{$y := 1}}{{end}}{{$y}}', /undefined variable: \$y/],
    ['{{range $k, $v := 3}}{{end}}', /can't use \$k, \$v/],
    ['{{range .Name}}{{end}}', /range can't iterate over web/],
    ['{{.Nil.Foo}}', /nil pointer evaluating \.Foo/],
    ['{{.Name "x"}}', /can't give argument to non-function/],
    ['{{"x" 1}}', /can't give argument to non-function/],
    ['{{define "x"}}{{end}}', /\{\{define\}\} is not supported/],
    ['{{"\\q"}}', /invalid syntax/],
    ['{{"abc}}', /unterminated string|unclosed action/],
    ['{{/* x */ }}', /comment ends before closing delimiter/],
    ['{{/* x', /unclosed comment/],
    ['{{.A..B}}', /bad field/],
    ['{{range .List}}{{else if .X}}{{end}}', /unexpected tokens after else/],
    // JavaScript's own properties are not Go fields: no way out of the data
    ['{{.constructor}}', /can't evaluate field constructor/],
    ['{{.Labels.constructor}}', /^$|.*/], // a map key: <no value>, checked below
    ['{{(.constructor.constructor "return process.exit(7)")}}', /can't evaluate field constructor/],
    ['{{index .Labels "__proto__"}}', /^$|.*/],
    // bounds
    [`{{${'('.repeat(LIMITS.depth + 5)}1${')'.repeat(LIMITS.depth + 5)}}}`, /max expression depth exceeded/],
    [`${'{{if 1}}'.repeat(LIMITS.depth + 5)}${'{{end}}'.repeat(LIMITS.depth + 5)}`, /nested deeper than/],
    ['{{range 100000000}}{{end}}', /more than \d+ steps/],
    ['x'.repeat(LIMITS.source + 1), /template longer than/],
  ];
  for (const [tpl, re] of errors) {
    if (re.source === '^$|.*') continue;
    it(tpl.length > 80 ? `${tpl.slice(0, 60)}…` : tpl, () =>
      assert.throws(
        () => compile(tpl).render(data),
        (e: Error) => e.name === 'InvalidArgumentError' && re.test(e.message),
      ),
    );
  }

  it('map keys that are names of JavaScript properties are plain missing keys', () => {
    assert.equal(
      compile('{{.Labels.constructor}}|{{index .Labels "__proto__"}}|{{index .Labels "toString"}}').render(data),
      '<no value>||',
    );
    const withKey = { Labels: goMap({ constructor: 'c' }) };
    assert.equal(compile('{{.Labels.constructor}} {{index .Labels "constructor"}}').render(withKey), 'c c');
  });

  it('output is bounded', () => {
    const big = { S: 'x'.repeat(1 << 20) };
    assert.throws(() => compile('{{range 20}}{{$.S}}{{end}}').render(big), /output longer than/);
  });
});

describe('Go templates: text and plain fields, rendered without the interpreter', () => {
  // What ls's default table renders: the rows must come out as the interpreter prints them,
  // whatever the fields hold (a string, a number, a method, a missing key, a header proxy).
  const header = new Proxy({}, { get: (_t, k) => `H-${String(k)}`, has: () => true });
  const rows: unknown[] = [
    data,
    { ID: 'abc', Name: 'n1', Driver: 'bridge', Scope: 'local' },
    { ID: 7, Name: 'n' },
    { ID: 'x', Name: () => 'm' },
    goMap({ ID: 'i', Name: 'n' }),
    goMap({ ID: 'i' }),
    header,
    null,
    'text',
    {},
  ];
  const templates = [
    '{{.ID}}\t{{.Name}}',
    'x{{.Name}}y',
    '{ {{.Name}} } }}',
    '{{.Name}}{{.Name}}',
    '{{.ID}}\t{{.Name}}\t{{.Driver}}\t{{.Scope}}',
    '{{.Name}} {{if .ID}}id{{end}}',
    '{{{.Name}}',
    'a{{{.Name}}',
    '{{.Name}}{',
    '{{.Name}}{{',
    '{{ .Name }}',
    '{{- .Name}}',
    '{{/* c */}}{{.Name}}',
  ];
  for (const t of templates) {
    it(t, () => {
      for (const d of rows) {
        let want: string | Error;
        try {
          want = interpreted(t).render(d);
        } catch (e) {
          want = e as Error;
        }
        if (want instanceof Error)
          assert.throws(() => compile(t).render(d), { message: want.message }, `${t} on ${JSON.stringify(d)}`);
        else assert.equal(compile(t).render(d), want, `${t} on ${JSON.stringify(d)}`);
      }
    });
  }

  it('a template Go cannot parse is refused when compiled, as by the interpreter', () => {
    assert.throws(
      () => compile('{{{.Name}}'),
      (e: Error) => e.name === 'InvalidArgumentError',
    );
    assert.throws(
      () => compile('table {{{.Name}}\t{{.ID}}'),
      (e: Error) => e.name === 'InvalidArgumentError',
    );
  });

  it('the output bound holds', () => {
    const tpl = '{{.S}}'.repeat(6000);
    assert.ok(tpl.length <= LIMITS.source);
    assert.throws(() => compile(tpl).render({ S: 'x'.repeat(3000) }), /output longer than/);
  });

  it('a plain row puts the strings in; a row with other values goes through the interpreter', () => {
    const t = compile('{{.ID}}|{{.Name}}');
    assert.equal(t.render({ ID: 'a', Name: 'b' }), 'a|b');
    assert.equal(t.render({ ID: 1, Name: 'b' }), '1|b');
    assert.equal(t.render(goMap({ ID: 'a' })), 'a|<no value>');
  });
});
