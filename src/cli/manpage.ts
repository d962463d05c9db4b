// man/netctl.1 generated from the commander tree, so flags and help never drift apart
// (a unit test regenerates it and compares). Regenerate: npm run man
import { writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { Command, Option } from 'commander';
import { buildProgram } from './program.js';
import { packageFile, version } from './version.js';

const esc = (s: string) =>
  s
    .replace(/\\/g, '\\e')
    .replace(/-/g, '\\-')
    .replace(/^([.'])/gm, '\\&$1');

function options(opts: readonly Option[]): string[] {
  const out: string[] = [];
  for (const o of opts.filter((x) => !x.hidden)) {
    out.push(
      '.TP',
      `\\fB${esc(o.flags)}\\fR`,
      esc(
        o.description +
          (o.defaultValue !== undefined && o.defaultValue !== false ? ` (default: ${String(o.defaultValue)})` : ''),
      ),
    );
  }
  return out;
}

function usage(c: Command, prefix: string): string {
  return `${prefix}${c.name()}${c.aliases().length ? `|${c.aliases().join('|')}` : ''} ${c.usage()}`.trim();
}

export function renderMan(program: Command, version: string): string {
  const lines = [
    `.TH NETCTL 1 "" "netctl ${esc(version)}" "User Commands"`,
    '.SH NAME',
    `netctl \\- ${esc(program.description())}`,
    '.SH SYNOPSIS',
    '.B netctl',
    '[\\fIGLOBAL OPTIONS\\fR] \\fICOMMAND\\fR [\\fIOPTIONS\\fR] [\\fIARGS\\fR]',
    '.SH DESCRIPTION',
    'netctl implements the Container Network Model without a daemon: networks are Linux bridges,',
    'endpoints are veth pairs and sandboxes are network namespaces. Every command takes a host\\-wide',
    'lock, reads the store, changes the kernel through \\fBip\\fR(8) and \\fBiptables\\fR(8), and writes',
    'the store back atomically. Positional order follows Docker: NETWORK first, then CONTAINER.',
    '.SH GLOBAL OPTIONS',
    ...options(program.options),
    '.SH COMMANDS',
  ];
  const walk = (c: Command, prefix: string) => {
    for (const sub of c.commands) {
      if (sub.commands.length) {
        walk(sub, `${prefix}${sub.name()} `);
        continue;
      }
      lines.push(
        `.SS "${esc(usage(sub, `netctl ${prefix}`)).replace(/"/g, '\\(dq')}"`,
        esc(sub.description()),
        ...options(sub.options),
      );
    }
  };
  walk(program, '');
  lines.push(
    '.SH EXIT STATUS',
    '0 on success, 1 when the operation failed, 125 for bad usage (unknown flag, bad flag value,',
    'wrong argument count). \\fBexec\\fR exits with the status of the command it ran.',
    '.SH ENVIRONMENT',
    '.TP',
    '\\fBNETCTL_ROOT\\fR',
    'state root when \\fB\\-\\-root\\fR is not given.',
    '.TP',
    '\\fBNETCTL_PLUGIN_DIRS\\fR',
    'colon\\-separated directories searched for network and IPAM plugins (NAME.sock, NAME.spec, NAME.json), ' +
      'replacing the default list.',
    '.TP',
    '\\fBNO_COLOR\\fR, \\fBFORCE_COLOR\\fR',
    'turn colour off or on (colour is used only on a terminal otherwise).',
    '.SH FILES',
    '.TP',
    '\\fI/var/lib/netctl/store.json\\fR',
    'the metadata store (mode 0600, root directory 0700).',
    '.TP',
    '\\fI/run/netctl/plugins\\fR, \\fI/run/docker/plugins\\fR, \\fI/etc/docker/plugins\\fR, ' +
      '\\fI/usr/lib/docker/plugins\\fR',
    'where a driver name that is not built in is found as a plugin, in this order.',
    '.TP',
    '\\fI/var/run/netns/NAME\\fR',
    'the network namespace of sandbox NAME.',
    '.TP',
    '\\fI/etc/netns/NAME/hosts\\fR, \\fI/etc/netns/NAME/resolv.conf\\fR',
    'name resolution of sandbox NAME, seen as /etc/hosts and /etc/resolv.conf by \\fBip netns exec\\fR and ' +
      '\\fBnetctl exec\\fR.',
    '.SH SEE ALSO',
    '\\fBip\\fR(8), \\fBip\\-netns\\fR(8), \\fBiptables\\fR(8), \\fBdocker\\-network\\fR(1)',
  );
  return lines.join('\n') + '\n';
}

// `node dist/src/cli/manpage.js` writes man/netctl.1.
if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  writeFileSync(packageFile('man/netctl.1'), renderMan((await buildProgram()).program, version()));
}
