// In-memory Store for engine tests with a fake Runner. It keeps store.json's text, so the
// engine tests go through the same layout and searches as the file store.
import type { State } from '../model/records.js';
import { parseStore, storeText } from './state.js';
import { DocTxn, emptyDoc, stateOf, type Doc, type ReadTxn, type Store, type Txn } from './store.js';

export class MemoryStore implements Store {
  /** Every persisted version, oldest first: tests read the journal's intent writes from here. */
  readonly history: State[] = [];
  private text: string | null = null;

  async exists(): Promise<boolean> {
    return this.text !== null;
  }

  private doc(): Doc {
    return this.text === null ? emptyDoc('memory') : parseStore(this.text, 'memory').doc;
  }

  snapshot(): State {
    return stateOf(this.doc());
  }

  async view<T>(fn: (tx: ReadTxn) => T): Promise<T> {
    return fn(new DocTxn(this.doc(), async () => undefined));
  }

  async update<T>(fn: (tx: Txn) => Promise<T>): Promise<T> {
    const start = this.history.length;
    const tx = new DocTxn(
      this.doc(),
      async (d) => {
        this.text = storeText(d);
        this.history.push(this.snapshot());
      },
      { start, now: () => this.history.length },
    );
    tx.checkChanges = true; // a record changed without put would be lost by the file store
    const out = await fn(tx);
    await tx.commit();
    return out;
  }
}
