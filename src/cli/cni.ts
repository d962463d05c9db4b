// `netctl cni` / `netctl-cni`: the CNI plugin (docs/reference.md §12). Reads CNI_* from the environment and
// the network configuration on stdin, runs one operation on the controller, and writes the
// spec's JSON on stdout: a result, or an error object with a non-zero exit (never a stack).
// Runtimes call it on every pod start: it runs without commander (commands/index.ts marks it bare).
import { readFileSync } from 'node:fs';
import { requirePrivilege } from '../lib/privilege.js';
import { OPT } from '../drivers/common.js';
import { resolverAddresses } from '../dns/view.js';
import { parseIP } from '../lib/ip.js';
import {
  addResult,
  CniError,
  CODE,
  decode,
  endpointSettings,
  errorResult,
  expectedAddresses,
  negotiate,
  parseCommand,
  parseConfig,
  parseEnv,
  versionAtLeast,
  versionResult,
  type CniCommand,
} from './cni-protocol.js';
import { makeController, type Io } from './wiring.js';

/** All of stdin; a non-blocking descriptor (EAGAIN) is read as a stream instead. */
async function readStdin(): Promise<string> {
  try {
    return readFileSync(0, 'utf8');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'EAGAIN') throw e;
    const chunks: Buffer[] = [];
    for await (const c of process.stdin) chunks.push(c as Buffer);
    return Buffer.concat(chunks).toString('utf8');
  }
}

export async function cniMain(
  io: Io,
  env: Record<string, string | undefined>,
  stdin: () => Promise<string> = readStdin,
): Promise<number> {
  let version = '1.1.0';
  let cmd: CniCommand | undefined;
  try {
    cmd = parseCommand(env);
    let text: string;
    try {
      text = await stdin();
    } catch (e) {
      throw new CniError(CODE.io, `cannot read the network configuration on stdin: ${(e as Error).message}`);
    }
    if (cmd === 'VERSION') {
      io.out(`${JSON.stringify(versionResult(text))}\n`);
      return 0;
    }
    const raw = decode(text);
    version = negotiate(raw);
    const conf = parseConfig(raw);
    if ((cmd === 'GC' || cmd === 'STATUS') && !versionAtLeast(version, '1.1.0')) {
      throw new CniError(
        CODE.incompatible,
        `config version ${version} does not allow ${cmd}`,
        'STATUS and GC need cniVersion 1.1.0',
      );
    }
    const attachment = (e: ReturnType<typeof parseEnv>) => ({
      containerId: e.containerId,
      ifName: e.ifName,
      netns: e.netns ?? '',
      network: conf.network,
      args: e.args,
      dnsServers: nameserversOf(conf.dns),
    });
    const ctl = () => makeController({ root: conf.root, debug: false }, { out: () => undefined, err: io.err });
    switch (cmd) {
      case 'ADD': {
        const e = parseEnv('ADD', env);
        const settings = endpointSettings(e.args, conf.runtimeConfig);
        requirePrivilege('add a CNI attachment');
        const { ep, nw, gateway } = await ctl().cniAdd(attachment(e), settings);
        const mtu = Number(nw.options[OPT.mtu]) || undefined;
        const at = { ...ep, gateway, resolver: resolverAddresses(nw), ...(mtu ? { mtu } : {}) };
        io.out(`${JSON.stringify(addResult(version, at, e.netns ?? '', conf))}\n`);
        return 0;
      }
      case 'DEL': {
        const e = parseEnv('DEL', env);
        requirePrivilege('delete a CNI attachment');
        const errs = await ctl().cniDel({
          containerId: e.containerId,
          ifName: e.ifName,
          network: conf.network,
          args: e.args,
          ...(e.netns ? { netns: e.netns } : {}),
        });
        if (errs.length)
          throw new CniError(
            CODE.system,
            `DEL ${e.containerId}/${e.ifName}: teardown left errors (journaled; the next netctl command retries)`,
            errs.join('; '),
          );
        return 0;
      }
      case 'CHECK': {
        const e = parseEnv('CHECK', env);
        requirePrivilege('check a CNI attachment');
        await ctl().cniCheck(attachment(e), expectedAddresses(conf.prevResult, e.ifName));
        return 0;
      }
      case 'STATUS':
        await ctl().cniStatus(conf.network);
        return 0;
      case 'GC': {
        const valid = validAttachments(conf.raw['cni.dev/valid-attachments']);
        requirePrivilege('garbage-collect CNI attachments');
        const { removed, errors } = await ctl().cniGc(conf.network, valid);
        for (const r of removed) io.err(`netctl-cni: GC removed stale attachment ${r} from ${conf.network}\n`);
        if (errors.length)
          throw new CniError(CODE.system, `GC of ${conf.network}: teardown left errors`, errors.join('; '));
        return 0;
      }
      default:
        return 0; // VERSION was answered above
    }
  } catch (e) {
    io.out(`${JSON.stringify(errorResult(version, e, cmd))}\n`);
    return 1;
  }
}

/** `cni.dev/valid-attachments`: required, so that a runtime that forgot it does not lose every attachment. */
function validAttachments(v: unknown): Array<{ containerId: string; ifName: string }> {
  if (!Array.isArray(v))
    throw new CniError(CODE.config, 'GC needs cni.dev/valid-attachments (a list of {containerID, ifname})');
  return v.map((a: unknown, i) => {
    const o = (typeof a === 'object' && a !== null ? a : {}) as Record<string, unknown>;
    if (typeof o['containerID'] !== 'string' || typeof o['ifname'] !== 'string') {
      throw new CniError(CODE.config, `cni.dev/valid-attachments[${i}]: needs string containerID and ifname`);
    }
    return { containerId: o['containerID'], ifName: o['ifname'] };
  });
}

/** The configuration's dns.nameservers that are addresses (the rest of a runtime's dns is its business). */
function nameserversOf(dns: unknown): string[] {
  const list = (dns as { nameservers?: unknown } | undefined)?.nameservers;
  return Array.isArray(list) ? list.filter((x): x is string => typeof x === 'string' && parseIP(x) !== null) : [];
}
