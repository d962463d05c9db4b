// Scheduling of kernel steps: merged into one `ip -batch` per namespace where consecutive, and
// run side by side where they touch different sandboxes.
import type { Step } from '../model/records.js';

/** Merges consecutive steps in the same namespace so each becomes one `ip -batch` process. */
export function mergeSteps(steps: Step[]): Step[] {
  const out: Step[] = [];
  for (const s of steps) {
    const last = out[out.length - 1];
    // A plugin call, or commands known only later, is a step of its own.
    const alone = (x: Step) => x.call !== undefined || x.later !== undefined;
    if (alone(s)) out.push({ ...s });
    else if (last && !alone(last) && last.ns === s.ns)
      out[out.length - 1] = { ns: s.ns, cmds: [...last.cmds, ...s.cmds], undo: [...s.undo, ...last.undo] };
    else if (s.cmds.length) out.push({ ...s });
  }
  return out;
}

/** Steps from `start` that run in distinct sandbox namespaces (a host step runs alone). */
export function parallelWave(work: Step[], start: number): Step[] {
  const first = work[start];
  if (!first) return [];
  if (!first.ns) return [first];
  const seen = new Set<string>();
  const wave: Step[] = [];
  for (let j = start; j < work.length; j++) {
    const s = work[j];
    if (!s?.ns || seen.has(s.ns)) break;
    seen.add(s.ns);
    wave.push(s);
  }
  return wave;
}

/** Runs a wave a few at a time (two cores); waits for all, then rethrows the first failure. */
export async function runWave(wave: Step[], run: (s: Step) => Promise<void>, width = 6): Promise<void> {
  let next = 0;
  let failure: unknown = null;
  const worker = async () => {
    while (next < wave.length) {
      const s = wave[next++];
      if (s)
        await run(s).catch((e: unknown) => {
          failure ??= e;
        });
    }
  };
  await Promise.all(Array.from({ length: Math.min(width, wave.length) }, worker));
  if (failure) throw failure;
}

/** Host-namespace steps first (bridges, netns, veths), then those inside sandboxes: the one order of every plan. */
export function hostFirst(steps: Step[]): Step[] {
  return [...steps.filter((s) => !s.ns), ...steps.filter((s) => s.ns)];
}
