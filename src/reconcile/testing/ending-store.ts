import { GoneError, StoreError, type TxnOp, type Watch, type WatchHandler, type WatchOptions } from '../../store/store';
import { MemoryStore } from './memory-store';

/** A MemoryStore whose watches the test can end as etcd does when history they need is gone: onError, then silence. */
export class EndingStore extends MemoryStore {
  private readonly live: Array<{ watch: Watch; onError?: (err: StoreError) => void }> = [];

  override watch<V = unknown>(prefix: string, handler: WatchHandler<V>, options?: WatchOptions): Watch {
    const inner = super.watch<V>(prefix, handler, options);
    const entry = { watch: inner, onError: options?.onError };
    this.live.push(entry);
    // A watch its owner stopped is not ended again (no store reports on those).
    return {
      stop: () => {
        const i = this.live.indexOf(entry);
        if (i >= 0) this.live.splice(i, 1);
        inner.stop();
      },
    };
  }

  /**
   * Ends the live watches; `missed` is written after they stopped, so none of them sees it.
   * `gone`: as for history compacted away (GoneError), else as for a store that failed
   * another way (StoreError), after which a watch may resume where it was.
   */
  async endWatches(missed: TxnOp[] = [], gone = true): Promise<void> {
    const ended = this.live.splice(0);
    for (const w of ended) w.watch.stop();
    if (missed.length) await this.txn(missed);
    const revision = await this.currentRevision();
    for (const w of ended) w.onError?.(gone ? new GoneError(revision - 1, revision) : new StoreError('the watch failed'));
  }
}
