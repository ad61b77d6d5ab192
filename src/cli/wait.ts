/**
 * Waiting for an object to reach a condition (or disappear), watch-based: one GET, then
 * a watch from that object's resourceVersion, so no change between the two is missed and
 * nothing is polled; a lost connection is resumed from the last resourceVersion seen. A spinner on stderr shows progress only when stderr is a terminal.
 */
import type { KubeObject } from '../resources/object';
import { attempt } from './attempt';
import { ApiStatusError, CliError } from './errors';
import { conditionMet, conditionSummary, type WaitFor } from './flags/condition';
import { formatDuration } from './flags/duration';
import { qualifiedName, resourcePath, type KindInfo } from './kinds';
import { getObject, listObjects } from './ops';
import { lastErrorText, resumableWatch } from './resumable-watch';
import type { Runtime } from './runtime';

const FRAMES = ['⠋', '⠙', '⠹', '⠸', '⠼', '⠴', '⠦', '⠧', '⠇', '⠏'];

function spinner(rt: Runtime, label: string): () => void {
  if (!rt.term.stderrIsTTY) return () => undefined;
  const t0 = Date.now();
  let i = 0;
  const timer = setInterval(() => {
    rt.io.err(`\r${FRAMES[i++ % FRAMES.length]} waiting for ${label} (${formatDuration(Math.floor((Date.now() - t0) / 1000) * 1000)})\x1b[K`);
  }, 100);
  return () => {
    clearInterval(timer);
    rt.io.err('\r\x1b[K');
  };
}

function met(obj: KubeObject | undefined, want: WaitFor): boolean {
  if (want.kind === 'delete') return obj === undefined;
  return obj !== undefined && !obj.metadata.deletionTimestamp && conditionMet(obj, want);
}

async function current(rt: Runtime, kind: KindInfo, ns: string | undefined, name: string, want: WaitFor): Promise<KubeObject | undefined> {
  try {
    return await getObject(rt, kind, ns, name);
  } catch (err) {
    if (err instanceof ApiStatusError && err.httpStatus === 404 && want.kind === 'delete') return undefined;
    throw err;
  }
}

/**
 * Why an object waited for to go is still there: nobody deleted it, or what its deletion
 * waits for, as its Ready says while Terminating (the ports and load balancers still on a
 * network), else its finalizers. (QA: only the finalizers, also for an object not deleted.)
 */
function stillThere(last: KubeObject | undefined): string {
  if (!last) return 'it still exists';
  if (!last.metadata.deletionTimestamp) return 'it still exists and has not been deleted (delete it first, or wait for whoever deletes it)';
  const ready = (last.status as { conditions?: Array<{ type: string; reason?: string; message?: string }> } | undefined)?.conditions?.find((c) => c.type === 'Ready');
  if (ready?.reason === 'Terminating' && ready.message) return `it is being deleted and waits: ${ready.message}`;
  return `it is being deleted and waits for its finalizers (${(last.metadata.finalizers ?? []).join(', ')})`;
}

/** The timeout line: what it waited for, how the object was when last seen, and the last error if the last try failed. */
function timeoutMessage(kind: KindInfo, name: string, label: string, want: WaitFor, last: KubeObject | undefined, givenTimeoutMs: number, lastError: unknown): string {
  const now = want.kind === 'delete' ? stillThere(last) : conditionSummary(last, want.type);
  const head = `timed out after ${formatDuration(givenTimeoutMs)} waiting for ${label}`;
  if (lastError === undefined) return `${head}: ${now}; check the object (vnetctl get ${kind.plural} ${name} -o yaml) or wait longer with --timeout`;
  return `${head} (last error: ${lastErrorText(lastError)}): when last seen, ${now}; check that vnetd is running and reachable, or wait longer with --timeout`;
}

/**
 * Resolves when the object meets `want`; throws a CliError on timeout or if it is deleted while waiting for a condition.
 * `givenTimeoutMs` is the --timeout the user gave, for the message (timeoutMs may be what is left of it).
 * A lost connection is retried until the deadline (see resumable-watch.ts).
 */
export async function waitFor(rt: Runtime, kind: KindInfo, ns: string | undefined, name: string, want: WaitFor, timeoutMs: number, givenTimeoutMs = timeoutMs): Promise<KubeObject | undefined> {
  const label = `${qualifiedName(kind, name)} ${want.kind === 'delete' ? 'to be deleted' : `condition ${want.type}=${want.status}`}`;
  const deadline = Date.now() + timeoutMs;
  const stop = spinner(rt, label);
  let last: KubeObject | undefined;
  let deletedWhileWaiting = false;
  try {
    return await attempt(rt, { verb: 'wait for', kind, name }, async () => {
      const { how, lastError } = await resumableWatch<KubeObject>(rt.client(), {
        path: resourcePath(kind, ns),
        query: { fieldSelector: `metadata.name=${name}` },
        deadline,
        // From a list's resourceVersion, as kubectl wait: the object's own may be compacted
        // away (an object stuck Terminating for hours), and a watch from it answers 410 again
        // after each relist.
        relist: async () => {
          const list = await listObjects(rt, kind, ns, { fieldSelector: `metadata.name=${name}` });
          last = list.items[0];
          // Not there: a wait for a condition fails as a GET says it (404), unless it came meanwhile.
          if (last === undefined && want.kind === 'condition') last = await current(rt, kind, ns, name, want);
          return { resourceVersion: list.metadata.resourceVersion ?? last?.metadata.resourceVersion, satisfied: met(last, want) };
        },
        onEvent: (ev) => {
          last = ev.type === 'DELETED' ? undefined : ev.object;
          if (ev.type === 'DELETED' && want.kind === 'condition') deletedWhileWaiting = true;
          return deletedWhileWaiting || met(last, want);
        },
      });
      if (deletedWhileWaiting) throw new CliError(`cannot wait for ${label}: it was deleted while waiting; create it again and re-run`);
      if (how === 'satisfied') return last;
      throw new CliError(timeoutMessage(kind, name, label, want, last, givenTimeoutMs, lastError));
    });
  } finally {
    stop();
  }
}
