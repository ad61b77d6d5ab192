/**
 * Inactivity probe (what ovsdb-server and ovsdb-idl do with jsonrpc_session): after
 * `intervalMs` without receiving anything, send an echo; if still nothing arrives
 * within another interval, declare the connection dead so the reconnect logic runs.
 * Half-open TCP connections are otherwise only noticed when a write fails.
 */
import { ProbeTimeoutError } from '../errors';
import type { JsonRpcConnection } from '../jsonrpc/connection';

export function startProbe(conn: JsonRpcConnection, intervalMs: number): () => void {
  let probeSentAt: number | undefined;
  const tickMs = Math.max(10, Math.floor(intervalMs / 4));
  let lastTickAt = Date.now();
  const tick = (): void => {
    if (conn.closed) return;
    const now = Date.now();
    const stalled = now - lastTickAt > 2 * tickMs + 100;
    lastTickAt = now;
    // This process was blocked (a long synchronous compile or verify): the answer may be
    // sitting unread in the socket, so the silence is ours. Give the probe a fresh interval.
    if (stalled && probeSentAt !== undefined) probeSentAt = now;
    if (probeSentAt !== undefined && conn.lastActivity < probeSentAt && now - probeSentAt >= intervalMs) {
      conn.close(new ProbeTimeoutError(`no answer to inactivity probe within ${intervalMs} ms`));
      return;
    }
    if (conn.lastActivity >= (probeSentAt ?? 0)) probeSentAt = undefined;
    if (probeSentAt === undefined && now - conn.lastActivity >= intervalMs) {
      probeSentAt = now;
      // The reply itself is not needed: any received byte counts as liveness.
      conn.request('echo', ['probe']).catch(() => undefined);
    }
  };
  const timer = setInterval(tick, tickMs);
  timer.unref();
  return () => clearInterval(timer);
}
