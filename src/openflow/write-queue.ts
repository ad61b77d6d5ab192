import { Socket } from 'node:net';

interface Item {
  buf: Buffer;
  resolve: () => void;
  reject: (e: Error) => void;
}

/**
 * Respects the socket's write buffer: frames are handed to the socket only
 * while write() returns true; after that we wait for 'drain'. Each send()
 * resolves when its frame reached the socket, so awaiting callers slow down to
 * the peer's pace instead of growing an unbounded buffer in memory.
 */
export class WriteQueue {
  private queue: Item[] = [];
  private waitingDrain = false;
  private failed: Error | undefined;

  constructor(private readonly socket: Socket) {
    socket.on('drain', () => {
      this.waitingDrain = false;
      this.pump();
    });
  }

  /** Bytes queued here plus those buffered inside the socket. */
  get pendingBytes(): number {
    return this.queue.reduce((n, i) => n + i.buf.length, 0) + this.socket.writableLength;
  }

  send(buf: Buffer): Promise<void> {
    if (this.failed) return Promise.reject(this.failed);
    return new Promise((resolve, reject) => {
      this.queue.push({ buf, resolve, reject });
      this.pump();
    });
  }

  fail(e: Error): void {
    this.failed = e;
    for (const i of this.queue.splice(0)) i.reject(e);
  }

  private pump(): void {
    while (!this.waitingDrain && this.queue.length > 0) {
      const item = this.queue.shift() as Item;
      const ok = this.socket.write(item.buf);
      item.resolve();
      if (!ok) this.waitingDrain = true;
    }
  }
}
