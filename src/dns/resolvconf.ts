// Reading a resolv.conf: which servers can be forwarded to, and the search domains. Shared by
// the resolver (upstream.ts) and netctl's own resolv.conf files (core/names.ts); no Node module
// is loaded here, so every command may import it.

/** The nameserver lines of a resolv.conf that the resolver can forward to. */
export function nameservers(text: string): string[] {
  const out: string[] = [];
  for (const line of text.split('\n')) {
    const [key, value = ''] = line.trim().split(/\s+/);
    if (key !== 'nameserver' || !value) continue;
    if (!unusable(value)) out.push(value);
  }
  return out;
}

/** The domains of a resolv.conf's last `search` (or `domain`) line. */
export function searchDomains(text: string): string[] {
  let out: string[] = [];
  for (const line of text.split('\n')) {
    const [key, ...rest] = line.trim().split(/\s+/);
    if (key === 'search' || key === 'domain') out = rest.filter(Boolean);
  }
  return out;
}

/**
 * A nameserver that is no use from another namespace: loopback (a stub that forwards back here,
 * or nowhere) or link-local (no zone to send it by).
 */
export const unusable = (ip: string): boolean =>
  /^127\./.test(ip) || ip === '::1' || ip === '0.0.0.0' || /^fe80:/i.test(ip);
