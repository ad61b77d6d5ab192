import type { ListOptions, ListResult, Watch, WatchHandler, WatchOptions } from '../../store/store';
import { MemoryStore } from './memory-store';

/** A MemoryStore that counts, per prefix, the lists begun (first pages), the watches opened and those still open. */
export class CountingStore extends MemoryStore {
  readonly lists = new Map<string, number>();
  readonly watches = new Map<string, number>();
  readonly openWatches = new Map<string, number>();

  override list<V = unknown>(prefix: string, options?: ListOptions): Promise<ListResult<V>> {
    if (!options?.startAfter) bump(this.lists, prefix, 1);
    return super.list<V>(prefix, options);
  }

  override watch<V = unknown>(prefix: string, handler: WatchHandler<V>, options?: WatchOptions): Watch {
    const w = super.watch<V>(prefix, handler, options);
    bump(this.watches, prefix, 1);
    bump(this.openWatches, prefix, 1);
    let open = true;
    return {
      stop: () => {
        if (open) bump(this.openWatches, prefix, -1);
        open = false;
        w.stop();
      },
    };
  }
}

function bump(m: Map<string, number>, key: string, by: number): void {
  m.set(key, (m.get(key) ?? 0) + by);
}
