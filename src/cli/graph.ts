// `netctl graph`: networks, sandboxes, endpoints with their addresses, and published ports, as
// a terminal tree (with a cli-table3 summary under it), as Graphviz DOT, or as SVG through
// Graphviz's own `dot`. Built from the records on demand, like the other views.
import type { Runner } from '../kernel/runner.js';
import { SystemError } from '../lib/errors.js';
import type { PortMapping } from '../model/records.js';
import type { ReadTxn } from '../store/store.js';
import { endpointsOf } from '../core/lookup.js';

interface GNet {
  id: string;
  name: string;
  driver: string;
  subnets: string[];
  eps: Array<{ sandbox: string; sbId: string; ifName: string; addrs: string[] }>;
}
interface GSb {
  id: string;
  name: string;
  state: string;
  ports: PortMapping[];
  nets: string[];
}
export interface GraphModel {
  networks: GNet[];
  sandboxes: GSb[];
}

const byName = <T extends { name: string }>(a: T, b: T) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0);
const port = (p: PortMapping) => `${p.hostIP ? `${p.hostIP}:` : ''}${p.hostPort}->${p.containerPort}/${p.proto}`;

/** Predefined networks appear only when something is on them. */
export function graphModel(tx: ReadTxn): GraphModel {
  const sbs = tx.list('sandboxes').sort(byName);
  const networks = tx
    .list('networks')
    .sort(byName)
    .map((nw) => ({
      id: nw.id,
      name: nw.name,
      driver: nw.driver,
      subnets: nw.ipam.config.map((p) => p.Subnet),
      eps: endpointsOf(tx, { network: nw.id })
        .map((ep) => ({
          sbId: ep.sandboxId,
          sandbox: tx.get('sandboxes', ep.sandboxId)?.name ?? ep.sandboxId.slice(0, 12),
          ifName: ep.ifName,
          addrs: [ep.ipv4, ep.ipv6].filter(Boolean),
        }))
        .sort((a, b) => (a.sandbox < b.sandbox ? -1 : 1)),
    }))
    .filter((n) => !tx.get('networks', n.id)?.predefined || n.eps.length > 0);
  return {
    networks,
    sandboxes: sbs.map((sb) => ({
      id: sb.id,
      name: sb.name,
      state: sb.state,
      ports: sb.ports,
      nets: Object.values(sb.networks).map((r) => r.name),
    })),
  };
}

export async function graphText(m: GraphModel): Promise<string> {
  const lines: string[] = [];
  const portsOf = new Map(m.sandboxes.map((s) => [s.id, s.ports]));
  for (const n of m.networks) {
    lines.push(`${n.name} (${[n.driver, ...n.subnets].join(', ')})`);
    if (n.eps.length === 0) lines.push('└── (no endpoints)');
    n.eps.forEach((e, i) => {
      const ports = portsOf.get(e.sbId) ?? [];
      const last = i === n.eps.length - 1;
      const ifName = e.ifName ? ` ${e.ifName}` : '';
      const addrs = e.addrs.length ? ` ${e.addrs.join(' ')}` : '';
      const published = ports.length ? `  ports ${ports.map(port).join(', ')}` : '';
      lines.push(`${last ? '└──' : '├──'} ${e.sandbox}${ifName}${addrs}${published}`);
    });
  }
  const stopped = m.sandboxes.filter((s) => s.state !== 'running');
  if (stopped.length)
    lines.push(
      `stopped: ${stopped.map((s) => `${s.name}${s.nets.length ? ` (${s.nets.join(', ')})` : ''}`).join(', ')}`,
    );
  // The summary is for people, so a drawn table (cli-table3, loaded only here); `ls` keeps Docker's layout.
  const { default: Table } = await import('cli-table3');
  const t = new Table({ head: ['NETWORK', 'DRIVER', 'SUBNETS', 'ENDPOINTS'], style: { head: [], border: [] } });
  for (const n of m.networks) t.push([n.name, n.driver, n.subnets.join(', '), String(n.eps.length)]);
  return `${lines.join('\n')}${lines.length ? '\n\n' : ''}${t.toString()}\n`;
}

const q = (s: string) => `"${s.replace(/[\\"]/g, (c) => `\\${c}`)}"`;

export function graphDot(m: GraphModel): string {
  const out = [
    'graph netctl {',
    '  rankdir=LR;',
    '  node [fontname="Helvetica", fontsize=10];',
    '  edge [fontname="Helvetica", fontsize=9];',
  ];
  for (const n of m.networks)
    out.push(
      `  ${q(`net:${n.id}`)} [shape=box, style=rounded, ` +
        `label=${q(`${n.name}\n${[n.driver, ...n.subnets].join(' ')}`)}];`,
    );
  for (const s of m.sandboxes) {
    out.push(
      `  ${q(`sb:${s.id}`)} [shape=ellipse${s.state === 'running' ? '' : ', style=dashed'}, ` +
        `label=${q(s.state === 'running' ? s.name : `${s.name} (stopped)`)}];`,
    );
    s.ports.forEach((p, i) => {
      out.push(
        `  ${q(`port:${s.id}:${i}`)} [shape=plaintext, label=${q(port(p))}];`,
        `  ${q(`port:${s.id}:${i}`)} -- ${q(`sb:${s.id}`)};`,
      );
    });
  }
  for (const n of m.networks) {
    for (const e of n.eps)
      out.push(
        `  ${q(`sb:${e.sbId}`)} -- ${q(`net:${n.id}`)} [label=${q([e.ifName, ...e.addrs].filter(Boolean).join(' '))}];`,
      );
  }
  out.push('}');
  return `${out.join('\n')}\n`;
}

/** SVG by Graphviz itself; without it, the error names the package (the Runner's ENOENT message). */
export async function graphSvg(runner: Runner, dot: string): Promise<string> {
  const r = await runner.run('dot', ['-Tsvg'], { input: dot }).catch((e: Error) => {
    if (/not found/.test(e.message))
      throw new SystemError(
        'netctl graph --format svg needs the dot command of the graphviz package',
        'install it: apt-get install graphviz (or use --format dot)',
      );
    throw e;
  });
  if (r.exitCode !== 0) throw new SystemError(`dot -Tsvg failed: ${r.stderr.trim() || `exit ${r.exitCode}`}`);
  return r.stdout;
}
