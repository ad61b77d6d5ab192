/**
 * One read of a source per scrape, shared by every series that asks during it: prom-client
 * collects them all at once, so the first to ask starts the read and the others wait on it.
 * A source that fails (the store away) gives the last figures: a failed collect failed the
 * whole scrape, every other series with it.
 */
export function readOncePerScrape<T>(read: () => Promise<T>, initial: T): () => Promise<T> {
  let pending: Promise<T> | undefined;
  let last = initial;
  return () =>
    (pending ??= read()
      .then(
        (v) => (last = v),
        () => last,
      )
      .finally(() => {
        pending = undefined;
      }));
}
