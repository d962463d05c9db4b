// docs/architecture.md names files and functions; each must exist, so the page stays true to
// the tree. A function is written `name()` with the file that defines it in the same sentence
// (`planJoin()` in `src/core/plan.ts`); a file as its path in backticks.
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { describe, it } from 'node:test';

const top = new URL('../../../', import.meta.url);
const read = (path: string) => readFileSync(new URL(path, top), 'utf8');
const doc = read('docs/architecture.md');

/** Every `src/…`/`test/…` path the page names in backticks. */
const paths = [...new Set([...doc.matchAll(/`((?:src|test|bin|scripts|docs)\/[\w./-]+)`/g)].map((m) => m[1] ?? ''))];

/** `name()` … `src/file.ts` pairs: a function and the first file named after it, within a sentence. */
function pairs(): Array<[string, string]> {
  const out: Array<[string, string]> = [];
  const text = doc.replace(/\n/g, ' ');
  for (const m of text.matchAll(/`(\w+)\(\)`([^`.;]*?(?:`[^`]*`[^`.;]*?)*?)`(src\/[\w./-]+\.ts)`/g)) {
    out.push([m[1] ?? '', m[3] ?? '']);
  }
  return out;
}

describe('docs/architecture.md', () => {
  it('names only files that exist', () => {
    assert.ok(paths.length > 40, `${paths.length} paths found`);
    const missing = paths.filter((p) => !p.includes('*') && !existsSync(new URL(p, top)));
    assert.deepEqual(missing, []);
  });

  it('puts each function it names in the file that defines it', () => {
    const found = pairs();
    assert.ok(found.length > 60, `${found.length} function/file pairs found`);
    const wrong = found.filter(([name, file]) => {
      if (!existsSync(new URL(file, top))) return true;
      const src = read(file);
      const forms = [
        String.raw`function\*?\s+${name}\b`,
        String.raw`(const|let)\s+${name}\s*[=:]`,
        String.raw`^\s*(async\s+)?${name}\s*[(<]`,
        String.raw`class\s+${name}\b`,
      ];
      const def = new RegExp(`(${forms.join('|')})`, 'm');
      return !def.test(src);
    });
    assert.deepEqual(wrong, []);
  });

  it('cites the contract from the repo: each "reference.md §N" of the sources is in docs/reference.md', () => {
    const ref = read('docs/reference.md');
    const sections = new Set([...ref.matchAll(/^## (\d+)\./gm)].map((m) => m[1]));
    assert.ok(sections.size >= 16, `${sections.size} numbered sections`);
    const cited = new Set<string>();
    for (const f of ['src/core/names.ts', 'src/cli/report.ts', 'src/overlay/etcd.ts', 'src/firewall/firewall.ts']) {
      for (const m of read(f).matchAll(/reference\.md §(\d+)/g)) cited.add(m[1] ?? '');
    }
    assert.ok(cited.size > 0);
    for (const n of cited) assert.ok(sections.has(n), `§${n} cited but not in docs/reference.md`);
  });
});
