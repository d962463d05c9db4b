// The last line of defence for `nft -f` input. nft's grammar is rich (`;` and newlines end
// commands, `{}` nest, `#` comments, `$` variables, `include`), and a stray value could add a
// rule to a table netctl does not own. So the model's values are checked where they enter
// (check.ts), and every line of the finished script must be one netctl writes: a declaration,
// flush or fixed rule of the netctl table taken verbatim from rules.ts, or an element made of
// plain tokens (addresses, prefixes, quoted interface names, protocols, ports, verdicts).
import { parseCIDR, parseIP } from '../../lib/ip.js';
import { checkModel as checkAny, IFNAME, isPort, refuse } from '../check.js';
import type { FwModel } from '../firewall.js';
import { POLICY_BASE, POLICY_FLUSH } from './policy.js';
import { CHAINS, MAPS, REMOVAL, RULES, SETS, TABLE } from './rules.js';

export const checkModel = (m: FwModel): void => checkAny(m, null, 'nft');

const WORDS = new Set(['tcp', 'udp', 'sctp', 'ipv4', 'ipv6', 'accept', 'drop']);

function elementToken(t: string): boolean {
  if (WORDS.has(t)) return true;
  if (/^"[^"]*"$/.test(t)) return IFNAME.test(t.slice(1, -1));
  if (/^\d{1,5}$/.test(t)) return isPort(Number(t));
  return (t.includes('/') ? parseCIDR(t) : parseIP(t)) !== null;
}

/** The fixed lines netctl may write, besides elements. */
function fixedLines(): Set<string> {
  const ok = new Set([`add table ${TABLE}`, `delete table ${TABLE}`, `add chain ${TABLE} user`]);
  for (const [name, body] of Object.entries(SETS)) {
    const kind = MAPS.has(name) ? 'map' : 'set';
    ok.add(`add ${kind} ${TABLE} ${name} { ${body} }`).add(`flush ${kind} ${TABLE} ${name}`);
  }
  for (const [name, body] of Object.entries(CHAINS)) {
    ok.add(body ? `add chain ${TABLE} ${name} { ${body} }` : `add chain ${TABLE} ${name}`).add(
      `flush chain ${TABLE} ${name}`,
    );
  }
  for (const [chain, rules] of Object.entries(RULES)) for (const r of rules) ok.add(`add rule ${TABLE} ${chain} ${r}`);
  for (const l of [...POLICY_BASE, ...POLICY_FLUSH, ...REMOVAL.trim().split('\n')]) ok.add(l);
  return ok;
}
let FIXED: Set<string> | undefined;

const ELEMENT = /^(add|delete) element inet netctl ([a-z0-9]+) \{ (.+) \}$/;

// Egress policy lines (policy.ts): a sandbox's chain and sets, and the two maps' elements.
const PCHAIN = 'p_[0-9a-z]{12}';
const PSET = `${PCHAIN}_[0-9a-f]{6}[46]`;
const POLICY_LINE = new RegExp(
  `^(?:(?:add|flush|delete) chain inet netctl ${PCHAIN}|(?:delete|flush) set inet netctl ${PSET}` +
    `|add set inet netctl ${PSET} \\{ type ipv[46]_addr; flags timeout; \\}` +
    `|(?:add|delete) element bridge netctl egress_ports \\{ "[a-zA-Z0-9_.-]{1,15}"(?: : 0x[0-9a-f]{8})? \\}` +
    `|(?:add|delete) element inet netctl egress \\{ 0x[0-9a-f]{8}(?: : jump ${PCHAIN})? \\})$`,
);
const PRULE = new RegExp(`^add rule inet netctl ${PCHAIN} (.+)$`);
const RULE_WORDS = new Set(
  (
    'meta mark set ct state established related accept icmpv6 type nd-router-solicit nd-neighbor-solicit ' +
    'nd-neighbor-advert ip ip6 daddr l4proto tcp udp th dport counter goto egress_reject comment { }'
  ).split(' '),
);
function ruleToken(t: string): boolean {
  if (RULE_WORDS.has(t) || /^0x[0-9a-f]{8}$/.test(t) || /^"(r\d{1,4}|default)"$/.test(t)) return true;
  if (new RegExp(`^@${PSET}$`).test(t)) return true;
  const range = /^(\d{1,5})-(\d{1,5})$/.exec(t);
  if (range) return isPort(Number(range[1])) && isPort(Number(range[2]));
  return elementToken(t);
}
const policyLine = (line: string): boolean => {
  if (POLICY_LINE.test(line)) return true;
  const body = PRULE.exec(line)?.[1];
  return body !== undefined && body.split(/[\s,]+/).every(ruleToken);
};

/** Returns `text` when every line is one netctl writes to its own table; throws SystemError otherwise. */
export function checkScript(text: string): string {
  const fixed = (FIXED ??= fixedLines());
  const lines = text.split('\n');
  const last = lines.pop() ?? '';
  if (last !== '') refuse('text', last, 'nft');
  for (const line of lines) {
    if (fixed.has(line) || policyLine(line)) continue;
    const m = ELEMENT.exec(line);
    const set = m?.[2] ?? '';
    if (!m || !(set in SETS)) refuse('text', line, 'nft');
    const [key, value, ...more] = (m[3] ?? '').split(' : ');
    // A map element has a value (none when deleting by key); a set element never does.
    const shapeOk =
      more.length === 0 && (MAPS.has(set) ? value !== undefined || m[1] === 'delete' : value === undefined);
    const tokens = [key ?? '', value ?? ''].filter(Boolean).flatMap((p) => p.split(' . '));
    if (!shapeOk || !tokens.every(elementToken)) refuse('text', line, 'nft');
  }
  return text;
}
