// `inspect` by the quick path (quick.ts): the entry of dist/src/bundle/quick-inspect.cjs.
import { runQuick } from './quick.js';
import { inspectNetworks } from './reads.js';

export const run = (args: string[]): Promise<number | undefined> =>
  runQuick(args, 'inspect', (reads, io, p) => inspectNetworks(reads, io, p.refs, p.flags));
