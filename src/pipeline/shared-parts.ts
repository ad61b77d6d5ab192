/**
 * Shared, frozen copies of the small match and action objects that thousands of flows
 * repeat (a network's register match, an eth_type, the constant moves of an ARP answer,
 * the actions toward one VTEP). A node's desired flows live as long as the node: at 3,000
 * ports two nodes hold 24,000 of them, and building each from fresh objects made them
 * 12 objects and 1.3 KB a flow, all of it copied by every young-generation GC of a burst.
 * Frozen, because a flow may share them with every other flow: nothing downstream
 * (diff, encoder, fast-path plan) writes to a flow, and a mistake would now throw.
 */

/** Entries before a cache starts afresh: bounds what deleted networks or nodes leave behind. */
const LIMIT = 4096;

export class SharedParts<T> {
  private readonly parts = new Map<string, T>();

  /** The shared part under `key`, made (and frozen, deeply) on first use. */
  get(key: string, make: () => T): T {
    let part = this.parts.get(key);
    if (part === undefined) {
      if (this.parts.size >= LIMIT) this.parts.clear();
      part = deepFreeze(make());
      this.parts.set(key, part);
    }
    return part;
  }
}

/** Freezes a plain value and everything it holds (objects and arrays; bigints and strings are immutable). */
export function deepFreeze<T>(value: T): T {
  if (value !== null && typeof value === 'object' && !Object.isFrozen(value)) {
    for (const v of Object.values(value)) deepFreeze(v);
    Object.freeze(value);
  }
  return value;
}
