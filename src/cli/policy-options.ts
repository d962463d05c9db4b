// Flags of `policy set|add|rm` and `sandbox create --egress-*` → the core's PolicyChange (pure).
import { parseDest } from '../lib/dest.js';
import { UsageError } from '../lib/errors.js';
import { printable } from '../lib/validate.js';
import type { PolicyRule } from '../model/records.js';
import type { PolicyChange } from '../model/requests.js';

export interface PolicyFlags {
  default?: string;
  allow?: string[];
  deny?: string[];
}

function verdict(v: string | undefined, flag: string): 'allow' | 'deny' | undefined {
  if (v === undefined || v === 'allow' || v === 'deny') return v;
  throw new UsageError(`invalid argument "${printable(v)}" for "${flag}" flag: allow or deny`);
}

/** The rules the flags name, each DEST checked (a malformed one: exit 125, naming it). */
function rulesOf(f: PolicyFlags): PolicyRule[] {
  const rules = [
    ...(f.allow ?? []).map((dest) => ({ verdict: 'allow' as const, dest })),
    ...(f.deny ?? []).map((dest) => ({ verdict: 'deny' as const, dest })),
  ];
  for (const r of rules) parseDest(r.dest);
  return rules;
}

export function toPolicyChange(op: 'set' | 'add' | 'rm', f: PolicyFlags, defaultFlag = '--default'): PolicyChange {
  const rules = rulesOf(f);
  if (op === 'set') {
    const d = verdict(f.default, defaultFlag);
    return { op, rules, ...(d ? { default: d } : {}) };
  }
  if (rules.length === 0) throw new UsageError(`policy ${op} needs --allow DEST or --deny DEST`);
  return { op, rules };
}

/** `sandbox create --egress-default --egress-allow --egress-deny`: undefined when none is given. */
export function egressOf(f: { egressDefault?: string; egressAllow?: string[]; egressDeny?: string[] }) {
  if (f.egressDefault === undefined && !f.egressAllow?.length && !f.egressDeny?.length) return undefined;
  return toPolicyChange(
    'set',
    { default: f.egressDefault, allow: f.egressAllow, deny: f.egressDeny },
    '--egress-default',
  );
}
