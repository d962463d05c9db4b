// The import rule of docs/architecture.md, checked on the sources: records on the ground floor,
// and nothing below core/ reaching up into core/ or cli/.
import assert from 'node:assert/strict';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';

const SRC = fileURLToPath(new URL('../../../src', import.meta.url));

function files(dir: string): string[] {
  return readdirSync(dir).flatMap((f) => {
    const p = join(dir, f);
    return statSync(p).isDirectory() ? files(p) : p.endsWith('.ts') ? [p] : [];
  });
}

/** The src/ folders a file imports from (static and dynamic imports of relative paths). */
function importedLayers(file: string): Array<{ spec: string; layer: string }> {
  const text = readFileSync(file, 'utf8');
  const out: Array<{ spec: string; layer: string }> = [];
  for (const m of text.matchAll(/(?:from|import)\s*\(?\s*'(\.[^']+)'/g)) {
    const target = relative(SRC, join(file, '..', m[1] ?? ''));
    out.push({ spec: m[1] ?? '', layer: target.split('/')[0] ?? '' });
  }
  return out;
}

const layerOf = (file: string) => relative(SRC, file).split('/')[0] ?? '';

describe('layers', () => {
  const all = files(SRC);

  it('finds the sources', () => {
    assert.ok(all.length > 30, `${all.length} files under ${SRC}`);
    assert.ok(all.some((f) => f.endsWith('core/endpoints.ts')));
  });

  it('model/ imports nothing outside itself', () => {
    for (const f of all.filter((x) => layerOf(x) === 'model')) {
      for (const i of importedLayers(f)) assert.equal(i.layer, 'model', `${relative(SRC, f)} imports ${i.spec}`);
    }
  });

  it('store, kernel, ipam, drivers, firewall, cluster and lib import nothing from core/ or cli/', () => {
    const lower = new Set(['store', 'kernel', 'ipam', 'drivers', 'firewall', 'lib', 'cluster']);
    let checked = 0;
    for (const f of all.filter((x) => lower.has(layerOf(x)))) {
      for (const i of importedLayers(f)) {
        checked++;
        assert.ok(i.layer !== 'core' && i.layer !== 'cli', `${relative(SRC, f)} imports ${i.spec}`);
      }
    }
    assert.ok(checked > 20, `${checked} imports checked`);
  });

  it('cluster/ imports only lib/, model/ and ipam/ (its allocation) and itself', () => {
    const allowed = new Set(['cluster', 'lib', 'model', 'ipam']);
    for (const f of all.filter((x) => layerOf(x) === 'cluster')) {
      for (const i of importedLayers(f)) assert.ok(allowed.has(i.layer), `${relative(SRC, f)} imports ${i.spec}`);
    }
  });

  it('core/ never imports cli/', () => {
    for (const f of all.filter((x) => layerOf(x) === 'core')) {
      for (const i of importedLayers(f)) assert.notEqual(i.layer, 'cli', `${relative(SRC, f)} imports ${i.spec}`);
    }
  });

  it('only drivers/index.ts lists the drivers', () => {
    for (const f of all.filter((x) => !x.endsWith('drivers/index.ts'))) {
      const text = readFileSync(f, 'utf8');
      assert.doesNotMatch(
        text,
        /import \{[^}]*\b(bridgeDriver|macvlanDriver|overlayDriver|hostDriver|nullDriver)\b/,
        `${relative(SRC, f)} imports a driver by name`,
      );
    }
  });

  it('no source file is over 450 lines', () => {
    for (const f of all) {
      const n = readFileSync(f, 'utf8').split('\n').length;
      assert.ok(n <= 450, `${relative(SRC, f)}: ${n} lines`);
    }
  });
});
