// The bundle has the version compiled in (scripts/build.mjs); tsc's output reads package.json.
import { readFileSync } from 'node:fs';

export function version(): string {
  const built = process.env['NETCTL_VERSION'];
  if (built) return built;
  try {
    return (JSON.parse(readFileSync(new URL('../../../package.json', import.meta.url), 'utf8')) as { version: string })
      .version;
  } catch {
    return 'unknown';
  }
}
