// A crash's stack in terms of src/*.ts. The bundle's source map is read only when a stack is
// printed (turning source maps on for every run costs a command ~10 ms), through Node's public
// module.SourceMap.
import { existsSync, readFileSync } from 'node:fs';
import { SourceMap } from 'node:module';
import { dirname, resolve } from 'node:path';

const maps = new Map<string, SourceMap | null>();

function mapOf(file: string): SourceMap | null {
  let m = maps.get(file);
  if (m === undefined) {
    m = null;
    try {
      if (existsSync(`${file}.map`))
        m = new SourceMap(
          JSON.parse(readFileSync(`${file}.map`, 'utf8')) as ConstructorParameters<typeof SourceMap>[0],
        );
    } catch {
      /* no usable map: the frame stays as it is */
    }
    maps.set(file, m);
  }
  return m;
}

/** One `file:line:column` of a bundle, as its source's `file:line:column`. */
function original(file: string, line: number, column: number): string | null {
  const e = mapOf(file)?.findEntry(line - 1, column - 1) as
    { originalSource?: string; originalLine?: number; originalColumn?: number } | undefined;
  if (!e?.originalSource || e.originalLine === undefined || e.originalColumn === undefined) return null;
  return `${resolve(dirname(file), e.originalSource)}:${e.originalLine + 1}:${e.originalColumn + 1}`;
}

/** The `at …` lines of a stack, each frame in a bundle mapped to its source. */
export function sourceFrames(stack: string): string[] {
  return stack
    .split('\n')
    .filter((l) => /^\s+at /.test(l))
    .map((l) =>
      l
        .trim()
        .replace(
          /(\/[^\s():]+\.c?js):(\d+):(\d+)/,
          (whole, file: string, line: string, col: string) => original(file, Number(line), Number(col)) ?? whole,
        ),
    );
}
