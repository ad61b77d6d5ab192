import { createServer, request, type IncomingMessage, type ServerResponse } from 'node:http';
import { connect, createServer as createH2Server, type Http2ServerRequest, type Http2ServerResponse } from 'node:http2';
import type { AddressInfo } from 'node:net';
import { onResponseClose } from './response-close';

/** A server whose handler waits until its client has gone, then asks to hear of it; closed once it has the answer. */
async function heardOfAClientGoneFirst(make: (handler: (req: IncomingMessage | Http2ServerRequest, res: ServerResponse | Http2ServerResponse) => void) => { listen(port: number, host: string, cb: () => void): unknown; address(): unknown; close(): unknown }, client: (port: number) => { abort(): void }): Promise<boolean> {
  let server: ReturnType<typeof make> | undefined;
  const heard = await new Promise<boolean>((resolve) => {
    server = make((req, res) => {
      const gone = 'stream' in req ? req.stream : req.socket;
      const ask = () => {
        const timer = setTimeout(() => resolve(false), 1_000);
        onResponseClose(res, () => {
          clearTimeout(timer);
          resolve(true);
        });
      };
      if (gone.destroyed) ask();
      else gone.once('close', () => setTimeout(ask, 50));
      c.abort();
    });
    let c: { abort(): void };
    server.listen(0, '127.0.0.1', () => (c = client((server!.address() as AddressInfo).port)));
  });
  server?.close();
  return heard;
}

describe('onResponseClose', () => {
  it('hears of an HTTP/1.1 client that left before it was asked', async () => {
    const heard = await heardOfAClientGoneFirst(
      (h) => createServer(h as (req: IncomingMessage, res: ServerResponse) => void),
      (port) => {
        const req = request({ port, host: '127.0.0.1', path: '/' });
        req.on('error', () => undefined);
        req.end();
        return { abort: () => req.destroy() };
      },
    );
    expect(heard).toBe(true);
  });

  it('hears of an HTTP/2 stream reset before it was asked', async () => {
    let session: ReturnType<typeof connect> | undefined;
    const heard = await heardOfAClientGoneFirst(
      (h) => createH2Server(h as (req: Http2ServerRequest, res: Http2ServerResponse) => void),
      (port) => {
        session = connect(`http://127.0.0.1:${port}`);
        session.on('error', () => undefined);
        const stream = session.request({ ':path': '/' });
        stream.on('error', () => undefined);
        return { abort: () => stream.close() };
      },
    );
    session?.destroy();
    expect(heard).toBe(true);
  });
});
