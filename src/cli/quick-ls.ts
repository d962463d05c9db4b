// `ls` by the quick path (quick.ts): the entry of dist/src/bundle/quick-ls.cjs.
import { runQuick } from './quick.js';
import { listNetworks } from './reads.js';

export const run = (args: string[]): Promise<number | undefined> =>
  runQuick(args, 'ls', (reads, io, p) => listNetworks(reads, io, p.flags));
