/** A tiny typed event emitter (node:events is untyped and would leak `any` to callers). */
export class TypedEmitter<E extends object> {
  private readonly listeners = new Map<keyof E, Set<(e: never) => void>>();

  on<K extends keyof E>(event: K, listener: (e: E[K]) => void): () => void {
    let set = this.listeners.get(event);
    if (!set) this.listeners.set(event, (set = new Set()));
    set.add(listener as (e: never) => void);
    return () => set.delete(listener as (e: never) => void);
  }

  emit<K extends keyof E>(event: K, e: E[K]): void {
    for (const l of this.listeners.get(event) ?? []) (l as (e: E[K]) => void)(e);
  }
}
