/**
 * A watch whose client stops reading: its events pile up in the response's buffer, in
 * vnetd's memory, for as long as the watch lasts (QA: 100 MB held for a stopped kubectl).
 * kube-apiserver closes such a watcher ("Forcing watcher close due to unresponsiveness");
 * so does this: once STALL_BYTES are unsent for stallMs, or MAX_BYTES at once. The client
 * lists and watches again, as on any watch's end.
 */
import type { Writable } from 'node:stream';

/** Unsent bytes from which a watch is stalled if they do not drain within stallMs. */
export const STALL_BYTES = 4 * 1024 * 1024;
/** Unsent bytes past which a watch is closed at once. */
export const MAX_BYTES = 64 * 1024 * 1024;
/** How long a stalled watch may stay so (VNETD_WATCH_STALL_MS: tests shorten it). */
export const STALL_MS = 30_000;

/**
 * Returns the check to run after each write of the watch's stream: it calls onStall (once)
 * with why, when the client has stopped reading.
 */
export function stallGuard(raw: Writable, onStall: (why: string) => void): () => void {
  const stallMs = Number(process.env.VNETD_WATCH_STALL_MS) || STALL_MS;
  let timer: NodeJS.Timeout | undefined;
  let stalled = false;
  const stall = (why: string) => {
    if (stalled) return;
    stalled = true;
    clearTimeout(timer);
    onStall(why);
  };
  raw.once('close', () => clearTimeout(timer));
  // Everything sent: not stalled (one listener for the watch's life, not one per episode).
  raw.on('drain', () => {
    clearTimeout(timer);
    timer = undefined;
  });
  return () => {
    const unsent = raw.writableLength;
    if (unsent > MAX_BYTES) return stall(`${unsent} bytes of events unsent`);
    if (unsent <= STALL_BYTES || timer) return;
    // Still over when it fires: a client that reads, slowly, below the mark meanwhile is not stalled.
    timer = setTimeout(() => {
      timer = undefined;
      if (raw.writableLength > STALL_BYTES) stall(`over ${STALL_BYTES} bytes of events unsent for ${stallMs} ms`);
    }, stallMs);
    timer.unref();
  };
}
