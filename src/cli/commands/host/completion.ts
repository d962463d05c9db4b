// netctl completion bash|zsh|fish: the completion script (also shipped in completions/).
import { readFileSync } from 'node:fs';
import { UsageError } from '../../../lib/errors.js';
import { command } from '../../command.js';
import { packageFile } from '../../version.js';

const SCRIPTS = { bash: 'netctl.bash', zsh: '_netctl', fish: 'netctl.fish' } as const;

export default command<[string], object>({
  define: (c) =>
    c.description('Print the shell completion script (bash, zsh or fish)').argument('<shell>', 'bash, zsh or fish'),
  args: ['shells'],
  async run(_g, io, [shell]) {
    if (!Object.hasOwn(SCRIPTS, shell)) throw new UsageError(`unsupported shell "${shell}": use bash, zsh or fish`);
    const file = SCRIPTS[shell as keyof typeof SCRIPTS];
    io.out(readFileSync(packageFile(`completions/${file}`), 'utf8'));
    return 0;
  },
});
