import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { compile, goMap } from '../../src/cli/template.js';

const data = {
  Name: 'web',
  Id: 'abc',
  IPAM: { Driver: 'default', Config: [{ Subnet: '10.1.0.0/24', IPRange: '', Gateway: '10.1.0.1', AuxiliaryAddresses: goMap({}) }] },
  Containers: goMap({ id2: { Name: 'b', IPv4Address: '10.1.0.3/24' }, id1: { Name: 'a', IPv4Address: '10.1.0.2/24' } }),
  Labels: goMap({ env: 'prod', team: 'net' }),
  Internal: false,
  List: ['x', 'y'],
};

describe('Go template subset', () => {
  const cases: Array<[string, string]> = [
    ['{{.Name}}', 'web'],
    ['{{.IPAM.Config}}', '[{10.1.0.0/24  10.1.0.1 map[]}]'],
    ['{{(index .IPAM.Config 0).Subnet}}', '10.1.0.0/24'],
    ['{{index .Labels "env"}}', 'prod'],
    ['{{index .Labels "nope"}}', '<no value>'],
    ['{{.Labels.team}}', 'net'],
    ['{{.Labels}}', 'map[env:prod team:net]'],
    ['{{range .Containers}}{{.Name}} {{end}}', 'a b '],
    ['{{range $id, $c := .Containers}}{{$id}}={{$c.IPv4Address}};{{end}}', 'id1=10.1.0.2/24;id2=10.1.0.3/24;'],
    ['{{range .IPAM.Config}}{{.Gateway}}{{else}}none{{end}}', '10.1.0.1'],
    ['{{range .Labels.missing}}x{{else}}none{{end}}', 'none'],
    ['{{if eq .Name "web"}}yes{{else}}no{{end}}', 'yes'],
    ['{{if ne .Name "web"}}yes{{else if .Internal}}int{{else}}ext{{end}}', 'ext'],
    ['{{if and .Name (not .Internal)}}ok{{end}}', 'ok'],
    ['{{if or .Internal .Name}}ok{{end}}', 'ok'],
    ['{{len .Containers}} {{len .List}}', '2 2'],
    ['{{json .Labels}}', '{"env":"prod","team":"net"}'],
    ['{{json .List}}', '["x","y"]'],
    ['{{join .List ","}}', 'x,y'],
    ['{{upper .Name}} {{.Name | upper}} {{title "hello world"}} {{lower "ABC"}}', 'WEB WEB Hello World abc'],
    ['{{printf "%s has %d" .Name 3}}', 'web has 3'],
    ['{{.Name | printf "%s!"}}', 'web!'],
    ['{{with .IPAM}}{{.Driver}}{{end}}', 'default'],
    ['a {{- " b " -}} c', 'a b c'],
    ['{{$.Name}}', 'web'],
  ];
  for (const [tpl, want] of cases) it(tpl, () => assert.equal(compile(tpl).render(data), want));

  it('reports unknown fields and functions clearly', () => {
    assert.throws(() => compile('{{.Nope}}').render(data), /can't evaluate field Nope/);
    assert.throws(() => compile('{{frobnicate .Name}}'), /function "frobnicate" not defined/);
    assert.throws(() => compile('{{if .Name}}x'), /missing \{\{end\}\}/);
    assert.throws(() => compile('{{.Name'), /unclosed action/);
  });
});
