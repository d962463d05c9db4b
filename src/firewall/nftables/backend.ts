// The nftables backend: everything in the one table `inet netctl`, every change one `nft -f`
// transaction. A change with a known previous model writes only the set elements that differ
// (one process, no read); if the kernel refuses it (the table was flushed or edited), a full
// rewrite follows in the same call. Nothing outside the table is read or written.
import type { Runner } from '../../kernel/runner.js';
import { SystemError } from '../../lib/errors.js';
import type { Backend, FwModel } from '../firewall.js';
import { checkModel, checkScript } from './guard.js';
import { chainOf, markText, policyBridges } from './policy.js';
import { CHAINS, MAPS, REMOVAL, RULES, SETS, diffScript, elements, fullScript } from './rules.js';

interface NftObject {
  table?: { family: string; name: string };
  chain?: { name: string };
  rule?: { chain: string; comment?: string; expr?: Array<{ counter?: { packets: number } }> };
  set?: { name: string; elem?: unknown[] };
  map?: { name: string; elem?: unknown[] };
}

/** An element as nft -j prints it, back in the text form rules.ts writes (without quotes). */
function textOf(v: unknown): string {
  if (Array.isArray(v)) return `${textOf(v[0])} : ${textOf(v[1])}`; // a map's [key, value]
  if (v && typeof v === 'object') {
    const o = v as Record<string, unknown>;
    if (Array.isArray(o['concat'])) return o['concat'].map(textOf).join(' . ');
    const p = o['prefix'] as { addr: string; len: number } | undefined;
    if (p) return `${p.addr}/${p.len}`;
    const verdict = Object.keys(o)[0];
    if (verdict === 'accept' || verdict === 'drop') return verdict;
    if (o['elem'] !== undefined) return textOf(o['elem']);
    if (o['val'] !== undefined) return textOf(o['val']);
  }
  return String(v);
}
const unquote = (s: string) => s.replace(/"/g, '');

export class NftablesFirewall implements Backend {
  readonly name = 'nftables';

  constructor(
    private readonly runner: Runner,
    private readonly debug?: (m: string) => void,
  ) {}

  /** Whether the last sync rewrote the table (not a difference). */
  rewrote = false;

  async sync(prev: FwModel | null, next: FwModel, whole?: () => FwModel): Promise<void> {
    checkModel(next);
    this.rewrote = false;
    await this.bridgesToInet(policyBridges(prev, next));
    if (prev) {
      const diff = diffScript(prev, next);
      if (diff === null) return;
      if ((await this.apply(diff)).exitCode === 0) return;
      this.debug?.('nftables: the table differs from the store; rewriting it');
    }
    const all = prev && whole ? whole() : next;
    if (all !== next) checkModel(all);
    const r = await this.apply(fullScript(all));
    if (r.exitCode !== 0) throw new SystemError(`nft: ${r.stderr.trim().split('\n')[0] || 'failed'}`);
    this.rewrote = true;
  }

  /**
   * Egress policy: bridged IP traffic of these bridges goes through the inet hooks, with
   * conntrack (br_netfilter's per-bridge switch; the machine-wide sysctl is left as it is).
   * Before the rules, so no moment has a policy that bridged traffic bypasses.
   */
  private async bridgesToInet(bridges: string[]): Promise<void> {
    if (bridges.length === 0) return;
    const cmds = bridges.map((b) => `link set ${b} type bridge nf_call_iptables 1 nf_call_ip6tables 1`).join('\n');
    const r = await this.runner.run('ip', ['-batch', '-'], { input: cmds + '\n' });
    if (r.exitCode !== 0) throw new SystemError(`ip: ${r.stderr.trim().split('\n')[0] || 'failed'}`);
  }

  async policyCounters(id12: string): Promise<Map<string, number> | null> {
    const r = await this.runner.run('nft', ['-j', 'list', 'chain', 'inet', 'netctl', chainOf(id12)]);
    if (r.exitCode !== 0) {
      if (/No such file or directory/.test(r.stderr)) return null;
      throw new SystemError(`nft: ${r.stderr.trim().split('\n')[0] || 'failed'}`);
    }
    const out = new Map<string, number>();
    for (const o of (JSON.parse(r.stdout) as { nftables: NftObject[] }).nftables) {
      const c = o.rule?.comment;
      const n = o.rule?.expr?.find((e) => e.counter)?.counter?.packets;
      if (c && n !== undefined) out.set(c, (out.get(c) ?? 0) + n);
    }
    return out;
  }

  /** The table as the kernel holds it (null: there is none). */
  private async list(): Promise<NftObject[] | null> {
    const r = await this.runner.run('nft', ['-j', 'list', 'table', 'inet', 'netctl']);
    if (r.exitCode !== 0) {
      if (/No such file or directory/.test(r.stderr)) return null;
      throw new SystemError(`nft: ${r.stderr.trim().split('\n')[0] || 'failed'}`);
    }
    return (JSON.parse(r.stdout) as { nftables: NftObject[] }).nftables;
  }

  /** Chains, the number of fixed rules in each, and every set's elements, against what sync writes. */
  async drift(model: FwModel): Promise<string[]> {
    if (model.networks.length === 0) return [];
    const objs = await this.list();
    if (objs === null) return ['firewall: table inet netctl is missing'];
    const out: string[] = [];
    const chains = new Set(objs.flatMap((o) => (o.chain ? [o.chain.name] : [])));
    for (const ch of [...Object.keys(CHAINS), 'user'])
      if (!chains.has(ch)) out.push(`firewall: chain ${ch} is missing`);
    for (const [ch, rules] of Object.entries(RULES)) {
      const n = objs.filter((o) => o.rule?.chain === ch).length;
      if (chains.has(ch) && n !== rules.length) out.push(`firewall: chain ${ch} has ${n} of ${rules.length} rules`);
    }
    const have = new Map(
      objs.flatMap((o) => {
        const s = o.set ?? o.map;
        return s ? [[s.name, new Set((s.elem ?? []).map(textOf))] as const] : [];
      }),
    );
    for (const [set, want] of elements(model)) {
      const got = have.get(set);
      if (!got) {
        out.push(`firewall: ${MAPS.has(set) ? 'map' : 'set'} ${set} is missing`);
        continue;
      }
      const wanted = new Set(want.map(unquote));
      for (const e of wanted) if (!got.has(e)) out.push(`firewall: ${set} lacks ${e}`);
      for (const e of got) if (!wanted.has(e)) out.push(`firewall: ${set} has stale ${e}`);
    }
    // Egress policy: each policied sandbox's chain and its jump (the sets are the resolver's to fill).
    const marks = new Set([...(have.get('egress') ?? [])].map((j) => Number(j.split(' : ')[0])));
    for (const p of model.policies ?? []) {
      if (!chains.has(chainOf(p.id12))) out.push(`firewall: chain ${chainOf(p.id12)} (an egress policy) is missing`);
      else if (!marks.has(p.mark)) out.push(`firewall: egress lacks ${markText(p.mark)} : jump ${chainOf(p.id12)}`);
    }
    if (model.policies?.length) out.push(...(await this.portDrift(model)));
    // The egress map and policy sets are checked above, not as fixed sets.
    for (const s of have.keys()) if (!(s in SETS) && !/^(egress|p_)/.test(s)) out.push(`firewall: stale set ${s}`);
    return out;
  }

  /** The bridge table's port → mark map against the model's policies. */
  private async portDrift(model: FwModel): Promise<string[]> {
    const r = await this.runner.run('nft', ['-j', 'list', 'map', 'bridge', 'netctl', 'egress_ports']);
    if (r.exitCode !== 0) return ['firewall: map egress_ports of table bridge netctl is missing'];
    const objs = (JSON.parse(r.stdout) as { nftables: NftObject[] }).nftables;
    const got = new Set(objs.flatMap((o) => (o.map?.elem ?? []).map((e) => textOf(e))));
    const marks = (p: { mark: number }) => [String(p.mark), markText(p.mark)];
    return (model.policies ?? []).flatMap((p) =>
      p.ports
        .filter((v) => !marks(p).some((m) => got.has(`${v} : ${m}`)))
        .map((v) => `firewall: egress_ports lacks ${v} (an egress policy)`),
    );
  }

  /**
   * Asks for netctl's table alone, without its sets' elements (-t): `nft list tables` fetches
   * every rule of every table, iptables-nft's too (~17 s beside 73,000 iptables rules).
   */
  async held(): Promise<string[]> {
    const r = await this.runner.run('nft', ['-t', 'list', 'table', 'inet', 'netctl']);
    return r.exitCode === 0 ? ['nftables table inet netctl'] : [];
  }

  async remove(): Promise<void> {
    if ((await this.held()).length === 0) return;
    const r = await this.apply(REMOVAL);
    if (r.exitCode !== 0) throw new SystemError(`nft: ${r.stderr.trim().split('\n')[0] || 'failed'}`);
  }

  private apply(script: string) {
    return this.runner.run('nft', ['-f', '-'], { input: checkScript(script) });
  }
}
