/**
 * One Informer per kind for all the reconcilers of a process, as client-go's
 * SharedInformerFactory: each kind is listed and watched once and cached once, however
 * many reconcilers read it. Separate informers had every VirtualPort listed three times
 * at start (IPAM, chassis, pipeline: the list, decode and index work of a restart, three
 * times over) and held three copies of it. All readers also see one cache, so one
 * reconciler never reads an object another has not heard of yet.
 *
 * The owner (whoever builds the reconcilers) stops it after stopping them; a reconciler
 * starts the informers it reads (starting a running one does nothing), waits for their
 * sync, and on stop removes its handlers but leaves the informers to the owner.
 */
import type { Logger } from 'pino';
import { typePrefix, type StoredType } from '../store/keys';
import type { Store } from '../store/store';
import { Informer } from './informer';

export class SharedInformers {
  private readonly informers = new Map<string, Informer<unknown>>();

  constructor(
    private readonly store: Store,
    private readonly logger?: Logger,
  ) {}

  /** The informer of a kind, made on first use (stored values are the objects: no decoding). */
  of<T>(type: StoredType): Informer<T> {
    const prefix = typePrefix(type);
    let informer = this.informers.get(prefix);
    if (!informer) {
      informer = new Informer<unknown>({ store: this.store, prefix, decode: (kv) => kv.value, logger: this.logger });
      this.informers.set(prefix, informer);
    }
    return informer as Informer<T>;
  }

  stop(): void {
    for (const informer of this.informers.values()) informer.stop();
  }
}
