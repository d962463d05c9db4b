// Start-up cost is paid by every command: --help, --version and __complete must not load the
// execa chunk (only `exec` uses it). Checked on the bundle bin/netctl runs.
import assert from 'node:assert/strict';
import { readFileSync, readdirSync } from 'node:fs';
import { describe, it } from 'node:test';

const dir = new URL('../../src/bundle/', import.meta.url);
const files = readdirSync(dir);
const read = (f: string) => readFileSync(new URL(f, dir), 'utf8');
const staticImports = (f: string): string[] => [...read(f).matchAll(/^import\s[^;]*?from\s*"\.\/([^"]+)"/gm)].map((m) => m[1] ?? '');

/** Every chunk a file pulls in before running (static imports, transitively). */
function closure(f: string, seen = new Set<string>()): Set<string> {
  if (seen.has(f)) return seen;
  seen.add(f);
  for (const dep of staticImports(f)) closure(dep, seen);
  return seen;
}

describe('start-up path', () => {
  it('main, the command tree and completion load no execa chunk', () => {
    const execa = files.filter((f) => /execa/.test(f));
    assert.equal(execa.length, 1, 'execa has a chunk of its own');
    for (const entry of ['main.js', ...files.filter((f) => /^(program|complete|network)-/.test(f))]) {
      const loaded = closure(entry);
      assert.ok(!execa.some((e) => loaded.has(e)), `${entry} statically loads ${[...loaded].join(', ')}`);
    }
    assert.match(read(files.find((f) => /^sandbox-/.test(f)) ?? ''), /import\("\.\/execa-/, 'exec loads it on demand');
  });
});
