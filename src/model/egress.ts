// The names a sandbox's egress policy has in nftables (docs/reference.md §16), which the
// firewall writes and the resolver fills: one place, below both.

/** The sandbox's own policy chain. */
export const chainOf = (id12: string): string => `p_${id12}`;

/** A short stable hash of a rule's text (FNV-1a), naming its learned-address sets. */
function hash6(s: string): string {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) h = Math.imul(h ^ s.charCodeAt(i), 0x01000193) >>> 0;
  return h.toString(16).padStart(8, '0').slice(0, 6);
}

/** The learned-address sets of a name rule (IPv4, IPv6), which the resolver fills. */
export function learnedSets(id12: string, rule: { verdict: string; dest: string }): [string, string] {
  const base = `${chainOf(id12)}_${hash6(`${rule.verdict} ${rule.dest}`)}`;
  return [`${base}4`, `${base}6`];
}
