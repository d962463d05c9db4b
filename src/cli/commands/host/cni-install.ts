// netctl cni install [--bin-dir DIR] (docs/reference.md §15): netctl-cni linked where CNI
// runtimes look for plugins (Debian's /usr/lib/cni, the conventional /opt/cni/bin).
import { existsSync, lstatSync, mkdirSync, readlinkSync, statSync, symlinkSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ConflictError } from '../../../lib/errors.js';
import { requirePrivilege } from '../../../lib/privilege.js';
import { command } from '../../command.js';
import { files } from '../../complete.js';
import { packageFile } from '../../version.js';

const PLUGIN_DIRS = ['/usr/lib/cni', '/opt/cni/bin'];

export default command<[], { binDir?: string }>({
  define: (c) =>
    c
      .description('Link netctl-cni into the CNI plugin directories (/usr/lib/cni, /opt/cni/bin)')
      .option('--bin-dir <dir>', 'this directory only (made if missing)'),
  values: { '--bin-dir': files },
  async run(_g, io, _args, flags) {
    requirePrivilege('install the CNI plugin');
    const target = fileURLToPath(packageFile('bin/netctl-cni'));
    // Runtimes run the plugin as root: a file someone else may change must not become it.
    const st = statSync(target);
    if (st.uid !== 0 || (st.mode & 0o022) !== 0 || (statSync(dirname(target)).mode & 0o022) !== 0) {
      throw new ConflictError(
        `${target} may be changed by others than root: not linked where a runtime runs it as root`,
        'install netctl as root (npm install -g as root, or a root-owned prefix)',
      );
    }
    const dirs = flags.binDir ? [flags.binDir] : PLUGIN_DIRS.filter((d) => existsSync(d));
    if (dirs.length === 0) dirs.push('/opt/cni/bin');
    for (const dir of dirs) {
      mkdirSync(dir, { recursive: true });
      const link = join(dir, 'netctl-cni');
      const st = lstatSync(link, { throwIfNoEntry: false });
      if (st && !(st.isSymbolicLink() && readlinkSync(link) === target)) {
        throw new ConflictError(`${link} exists and is not a link to ${target}`, `remove it first: rm ${link}`);
      }
      if (!st) symlinkSync(target, link);
      io.out(`${link} -> ${target}\n`);
    }
    return 0;
  },
});
