// In-memory Store for engine tests with a fake Runner.
import { emptyState, type State } from '../core/types.js';
import { DocTxn, type ReadTxn, type Store, type Txn } from './store.js';

export class MemoryStore implements Store {
  /** Every persisted version, oldest first: tests read the journal's intent writes from here. */
  readonly history: State[] = [];
  private doc: State | null = null;

  exists(): boolean {
    return this.doc !== null;
  }

  snapshot(): State {
    return structuredClone(this.doc ?? emptyState());
  }

  async view<T>(fn: (tx: ReadTxn) => T): Promise<T> {
    return fn(new DocTxn(this.snapshot(), async () => undefined));
  }

  async update<T>(fn: (tx: Txn) => Promise<T>): Promise<T> {
    const save = async (d: State, _how: string) => {
      this.doc = structuredClone(d);
      this.history.push(structuredClone(d));
    };
    const tx = new DocTxn(this.snapshot(), save);
    const out = await fn(tx);
    await tx.commit();
    return out;
  }
}
