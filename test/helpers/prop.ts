// fast-check with a fixed seed, so a failure reproduces (FC_SEED=<n> tries another).
import fc from 'fast-check';

export const SEED = Number(process.env['FC_SEED'] ?? 18);

/** Runs a property `runs` times from the fixed seed; fast-check's report names the seed and path of a failure. */
export function check<T>(prop: fc.IPropertyWithHooks<T> | fc.IProperty<T>, runs: number): void {
  fc.assert(prop, { seed: SEED, numRuns: runs, includeErrorInReport: true });
}

export async function checkAsync<T>(
  prop: fc.IAsyncProperty<T> | fc.IAsyncPropertyWithHooks<T>,
  runs: number,
): Promise<void> {
  await fc.assert(prop, { seed: SEED, numRuns: runs, includeErrorInReport: true });
}

/** Strings that reach parsers: mostly from a vocabulary of the syntax at hand, sometimes anything. */
export const fromVocab = (vocab: string[], max = 30): fc.Arbitrary<string> =>
  fc.oneof(
    { weight: 4, arbitrary: fc.array(fc.constantFrom(...vocab), { maxLength: max }).map((a) => a.join('')) },
    { weight: 1, arbitrary: fc.string({ unit: 'binary', maxLength: max }) },
  );
