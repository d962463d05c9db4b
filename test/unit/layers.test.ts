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

/** The files a file imports (relative specifiers, .js written for .ts). */
function importedFiles(file: string): string[] {
  return importedLayers(file)
    .map((i) => join(file, '..', i.spec).replace(/\.js$/, '.ts'))
    .filter((p) => p.endsWith('.ts'));
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

  it('store, kernel, ipam, drivers, firewall, engine and lib import nothing from core/, overlay/ or cli/', () => {
    const lower = new Set(['store', 'kernel', 'ipam', 'drivers', 'firewall', 'lib', 'engine']);
    let checked = 0;
    for (const f of all.filter((x) => lower.has(layerOf(x)))) {
      for (const i of importedLayers(f)) {
        checked++;
        assert.ok(!['core', 'overlay', 'cli'].includes(i.layer), `${relative(SRC, f)} imports ${i.spec}`);
      }
    }
    assert.ok(checked > 20, `${checked} imports checked`);
  });

  it('the engine names no driver, firewall, network or scope: it imports kernel/, store/, model/ and lib/ only', () => {
    const allowed = new Set(['engine', 'kernel', 'store', 'model', 'lib']);
    for (const f of all.filter((x) => layerOf(x) === 'engine')) {
      for (const i of importedLayers(f)) assert.ok(allowed.has(i.layer), `${relative(SRC, f)} imports ${i.spec}`);
    }
  });

  it('core/ reaches the overlay module only through ctx.scope: no import of overlay/', () => {
    for (const f of all.filter((x) => layerOf(x) === 'core')) {
      for (const i of importedLayers(f)) assert.notEqual(i.layer, 'overlay', `${relative(SRC, f)} imports ${i.spec}`);
    }
  });

  it('no import cycle among the files (type-only imports count: a reader follows them too)', () => {
    const graph = new Map(all.map((f) => [f, importedFiles(f)]));
    const state = new Map<string, 'open' | 'done'>();
    const stack: string[] = [];
    const visit = (f: string): void => {
      state.set(f, 'open');
      stack.push(f);
      for (const g of graph.get(f) ?? []) {
        if (state.get(g) === 'open') {
          const loop = stack.slice(stack.indexOf(g)).map((x) => relative(SRC, x));
          assert.fail(`import cycle: ${[...loop, relative(SRC, g)].join(' -> ')}`);
        }
        if (!state.has(g)) visit(g);
      }
      stack.pop();
      state.set(f, 'done');
    };
    for (const f of all) if (!state.has(f)) visit(f);
  });

  it('dns/ imports nothing from core/, overlay/ or cli/; the resolver process loads neither store nor drivers', () => {
    for (const f of all.filter((x) => layerOf(x) === 'dns')) {
      for (const i of importedLayers(f))
        assert.ok(!['core', 'overlay', 'cli'].includes(i.layer), `${relative(SRC, f)} imports ${i.spec}`);
    }
    // Every file the resolver's entry reaches (type-only imports too: they are gone at run time,
    // but a reader should not meet the store there either).
    const seen = new Set<string>();
    const walk = (f: string): void => {
      if (seen.has(f)) return;
      seen.add(f);
      importedFiles(f).forEach(walk);
    };
    walk(join(SRC, 'dns/daemon.ts'));
    const reached = [...seen].map((f) => relative(SRC, f));
    assert.ok(reached.includes('dns/server.ts'), reached.join(' '));
    for (const f of reached) assert.ok(!/^(store|drivers|core)\//.test(f), `the resolver reaches ${f}`);
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
