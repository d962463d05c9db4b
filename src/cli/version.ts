// The bundle has the version compiled in (scripts/build.mjs); tsc's output reads package.json.
// Both lie at the same depth under the package (dist/src/bundle/, dist/src/cli/).
import { readFileSync } from 'node:fs';

/** A file of the installed package (package.json, completions/…). */
export const packageFile = (path: string): URL => new URL(`../../../${path}`, import.meta.url);

export function version(): string {
  const built = process.env['NETCTL_VERSION'];
  if (built) return built;
  try {
    return (JSON.parse(readFileSync(packageFile('package.json'), 'utf8')) as { version: string }).version;
  } catch {
    return 'unknown';
  }
}
