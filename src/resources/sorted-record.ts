/** A map as an object with its keys in order: the same entries give the same JSON, whatever order they were set in. */
export function sortedRecord<V>(m: ReadonlyMap<string, V>): Record<string, V> {
  return Object.fromEntries([...m].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
}
