import type { ObjectStore } from '../object-store';

/** Wraps objects.get so a test can tell how many reads reached the store (caches are meant to save them). */
export function countReads(objects: ObjectStore): { readonly count: number } {
  const get = objects.get.bind(objects);
  const counter = { count: 0 };
  objects.get = ((...args: Parameters<ObjectStore['get']>) => {
    counter.count++;
    return get(...args);
  }) as ObjectStore['get'];
  return counter;
}
