/**
 * Runs cb once the client of a response is gone, also when it went before this was asked:
 * a response's 'close' fires once, and a watch whose client left while it was prepared (its
 * initial list read) waited for it in vain, holding its store watch and its tenant's watch slot
 * until its timeout, up to 30 minutes (QA-102 review).
 */
import type { ServerResponse } from 'node:http';
import type { Http2ServerResponse } from 'node:http2';

export function onResponseClose(res: ServerResponse | Http2ServerResponse, cb: () => void): void {
  // An HTTP/2 response is its stream's; an HTTP/1.1 one, its socket's.
  const gone = 'stream' in res ? res.stream.destroyed : res.destroyed;
  if (gone) setImmediate(cb);
  else res.once('close', cb);
}
