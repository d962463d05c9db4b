// A crash's stack names the TypeScript source, through the bundle's source map (src/lib/stack.ts).
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { buildSync } from 'esbuild';
import { sourceFrames } from '../../src/lib/stack.js';

const dir = mkdtempSync(join(tmpdir(), 'netctl-stack-'));
after(() => rmSync(dir, { recursive: true, force: true }));

describe('sourceFrames', () => {
  it('maps a frame of a bundle to its .ts file, line and column; leaves other frames alone', () => {
    writeFileSync(
      join(dir, 'boom.ts'),
      'export function boom(n: number): never {\n  const msg: string = `boom ${n}`;\n  throw new TypeError(msg);\n}\n',
    );
    buildSync({
      entryPoints: [join(dir, 'boom.ts')],
      bundle: true,
      format: 'cjs',
      platform: 'node',
      sourcemap: 'linked',
      sourcesContent: false,
      outfile: join(dir, 'boom.cjs'),
      logLevel: 'silent',
    });
    const { boom } = createRequire(import.meta.url)(join(dir, 'boom.cjs')) as { boom: (n: number) => never };
    let stack = '';
    try {
      boom(1);
    } catch (e) {
      stack = (e as Error).stack ?? '';
    }
    assert.match(stack, /boom\.cjs:\d+:\d+/, 'the raw stack points into the bundle');
    const frames = sourceFrames(stack);
    assert.equal(frames[0], `at boom (${join(dir, 'boom.ts')}:3:9)`);
    assert.ok(
      frames.slice(1).every((f) => f.startsWith('at ')),
      frames.join('\n'),
    );
    assert.ok(
      frames.some((f) => f.includes('stack.test.js')),
      'a frame with no map is kept as it was',
    );
  });
});
