/**
 * Objects of one kind that the API reads on every write of another kind (a create's
 * namespace, the network a port names), remembered between requests instead of read and
 * decoded from the store each time.
 *
 * An entry is forgotten when its object changes: by the store watch (on SQLite it runs at
 * the commit, before the writing request is answered; on etcd as the event arrives) and by
 * forget(), which the API calls after its own writes of the kind. `relevant` says which
 * modifications matter to the readers (a network's status writes do not). A read that
 * raced a change is not remembered. Entries are shared: read-only for callers.
 */
import type { ObjectReader } from '../admission/admission';
import type { KubeObject } from '../resources/object';
import type { ObjectStore } from '../store/object-store';
import type { StoredType } from '../store/keys';
import type { Watch } from '../store/store';

const MAX_ENTRIES = 4096;

export class ObjectCache<T extends KubeObject> implements ObjectReader<T> {
  private readonly entries = new Map<string, T>();
  private generation = 0;
  private watch?: Watch;

  constructor(
    private readonly objects: ObjectStore,
    private readonly type: StoredType,
    private readonly relevant: (old: T, next: T) => boolean = () => true,
  ) {}

  /** Starts remembering (before it, and after stop(), every get reads the store). */
  start(): void {
    if (this.watch) return;
    const watch: Watch = this.objects.watch<T>(
      this.type,
      undefined,
      undefined,
      (ev) => {
        if (ev.type === 'MODIFIED' && ev.old && !this.relevant(ev.old, ev.object)) return;
        this.forget(ev.object.metadata.namespace, ev.object.metadata.name);
      },
      // Ended by the store (etcd): what it missed is unknown, so remember nothing of before
      // (unless stopped meanwhile: the report comes after a probe of the store).
      { onError: () => (this.watch === watch ? this.restart() : undefined) },
    );
    this.watch = watch;
  }

  stop(): void {
    this.watch?.stop();
    this.watch = undefined;
    this.generation++;
    this.entries.clear();
  }

  private restart(): void {
    this.stop();
    this.start();
  }

  forget(namespace: string | undefined, name: string): void {
    this.generation++;
    this.entries.delete(entryKey(namespace, name));
  }

  async get(namespace: string | undefined, name: string): Promise<T | undefined> {
    const key = entryKey(namespace, name);
    const hit = this.entries.get(key);
    if (hit) return hit;
    const generation = this.generation;
    const obj = await this.objects.get<T>(this.type, namespace, name);
    if (obj && this.watch && generation === this.generation) {
      if (this.entries.size >= MAX_ENTRIES) this.entries.clear();
      this.entries.set(key, obj);
    }
    return obj;
  }
}

function entryKey(namespace: string | undefined, name: string): string {
  return `${namespace ?? ''}/${name}`;
}
